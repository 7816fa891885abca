// brookbench is the benchmark's native load generator (franz-go). Its default mode is many producer
// connections (bench/scale_bench.py); -mode e2e is end-to-end latency at a fixed rate (e2e.go, bench/run.py):
//
//	brookbench -bootstrap 127.0.0.1:9092 -topic t -producers 500 -rate 2 -seconds 10
//
// It starts N franz-go clients, each its own producer with its own connection to the broker, warms each one
// up with a synchronous produce (metadata and the produce connection are open before timing starts), then
// every producer sends one record of -size bytes every 1/-rate seconds to partition 0, open loop, acks=1,
// linger 0, no idempotence: at a modest per-connection rate each record is one Produce request, so the
// send->ack time of a record is the client's view of one request's latency. The producers' send times are
// spread evenly over one interval. It prints one JSON object: the latencies' percentiles (ms), the count of
// records acked and failed, how late the sends left against their schedule (the load generator's own lag),
// and this process's CPU seconds.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

type report struct {
	Producers         int                `json:"producers"`
	RatePerConnection float64            `json:"rate_per_connection"`
	Sent              int                `json:"sent"`
	Acked             int                `json:"acked"`
	Errors            int                `json:"errors"`
	FirstError        string             `json:"first_error"`
	LatencyMs         map[string]float64 `json:"latency_ms"`
	SendLagMs         map[string]float64 `json:"send_lag_ms"`
	CPUSeconds        float64            `json:"cpu_s"`
	WallSeconds       float64            `json:"wall_s"`
	// the slowest send->ack of the records due in each second of the run: one stall or steady queueing?
	WorstBySecond []float64 `json:"worst_ms_by_second"`
	// how long the Produce call itself took (it only queues the record; a long one means the client blocked)
	ProduceCallMs map[string]float64 `json:"produce_call_ms"`
}

func percentiles(values []time.Duration) map[string]float64 {
	out := map[string]float64{}
	if len(values) == 0 {
		return out
	}
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(values)))
		if i >= len(values) {
			i = len(values) - 1
		}
		return float64(values[i]) / 1e6
	}
	out["p50"], out["p90"], out["p99"], out["p999"], out["max"] = at(0.5), at(0.9), at(0.99), at(0.999), at(1)
	return out
}

// capApiVersions: the client options that keep its ApiVersions requests at or below version max (none for
// max < 0). franz-go opens each connection with ApiVersions v5 (KIP-1242), which names the cluster it expects
// once it knows the cluster ID; Tansu 0.6.0 advertises ApiVersions up to v4 and, rather than answering a
// newer version UNSUPPORTED_VERSION as Kafka does, reads the v5 body as v4 and closes the connection when
// that cluster ID ("tansu_cluster") is in it, so every connection after the seed's fails (bench/brokers.py).
// Other requests keep their versions: the client still takes the lower of its own and the broker's.
func capApiVersions(max int) []kgo.Opt {
	if max < 0 {
		return nil
	}
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(18, int16(max)) // 18: ApiVersions
	return []kgo.Opt{kgo.MaxVersions(versions)}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "broker address")
	topic := flag.String("topic", "connections", "topic (partition 0 is written)")
	producers := flag.Int("producers", 500, "producer clients, one connection each")
	rate := flag.Float64("rate", 2, "records per second per producer")
	seconds := flag.Float64("seconds", 10, "length of the timed run")
	size := flag.Int("size", 100, "record value bytes")
	compression := flag.String("compression", "none", "batch compression: none, gzip, snappy, lz4, zstd")
	gate := flag.Bool("gate", false, "after the warm-up, print \"warm\" on stdout and wait for a line on stdin")
	mode := flag.String("mode", "connections", "connections, or e2e (see e2e.go; -rate is then the total rate)")
	apiVersionsMax := flag.Int("max-apiversions", -1, "highest ApiVersions request version to send (-1: the client's own)")
	flag.Parse()
	common := capApiVersions(*apiVersionsMax)
	waitGate := func() {
		if !*gate {
			return
		}
		fmt.Println("warm")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fmt.Fprintf(os.Stderr, "no go-ahead on stdin: %v\n", err)
			os.Exit(1)
		}
	}
	if *mode == "e2e" {
		rep, err := endToEnd(*bootstrap, *topic, *rate, *seconds, *size, common, waitGate)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out, _ := json.Marshal(rep)
		fmt.Println(string(out))
		return
	}

	value := make([]byte, *size)
	for i := range value {
		value[i] = 'x'
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*seconds*float64(time.Second))+120*time.Second)
	defer cancel()

	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	codec, ok := codecs[*compression]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown compression %q\n", *compression)
		os.Exit(2)
	}
	clients := make([]*kgo.Client, *producers)
	var setup sync.WaitGroup
	setupErrs := make(chan error, *producers)
	for i := range clients {
		cl, err := kgo.NewClient(append(common,
			kgo.SeedBrokers(*bootstrap),
			kgo.DefaultProduceTopic(*topic),
			kgo.RequiredAcks(kgo.LeaderAck()),
			kgo.DisableIdempotentWrite(),
			kgo.ProducerLinger(0),
			kgo.ProducerBatchCompression(codec),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
		)...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		clients[i] = cl
		setup.Add(1)
		go func() {
			defer setup.Done()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value, Partition: 0}).FirstErr(); err != nil {
				setupErrs <- err
			}
		}()
	}
	setup.Wait()
	close(setupErrs)
	for err := range setupErrs {
		fmt.Fprintf(os.Stderr, "warm-up produce failed: %v\n", err)
		os.Exit(1)
	}

	waitGate()
	interval := time.Duration(float64(time.Second) / *rate)
	each := int(*rate * *seconds)
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, each**producers)
	lags := make([]time.Duration, 0, each**producers)
	calls := make([]time.Duration, 0, each**producers)
	errors, sent := 0, 0
	worst := make([]float64, int(*seconds)+1)
	firstError := ""
	var done sync.WaitGroup
	cpu0 := cpuSeconds()
	start := time.Now().Add(50 * time.Millisecond)
	for i, cl := range clients {
		done.Add(1)
		phase := time.Duration(int64(interval) * int64(i) / int64(*producers))
		go func(cl *kgo.Client) {
			defer done.Done()
			var acks sync.WaitGroup
			myLags := make([]time.Duration, 0, each)
			myCalls := make([]time.Duration, 0, each)
			for j := 0; j < each; j++ {
				due := start.Add(phase + time.Duration(j)*interval)
				time.Sleep(time.Until(due))
				sentAt := time.Now()
				myLags = append(myLags, sentAt.Sub(due))
				acks.Add(1)
				cl.Produce(ctx, &kgo.Record{Value: value, Partition: 0}, func(_ *kgo.Record, err error) {
					took := time.Since(sentAt)
					mu.Lock()
					if err != nil {
						errors++
						if firstError == "" {
							firstError = err.Error()
						}
					} else {
						latencies = append(latencies, took)
						second := min(int(due.Sub(start).Seconds()), len(worst)-1)
						worst[second] = max(worst[second], float64(took)/1e6)
					}
					mu.Unlock()
					acks.Done()
				})
				myCalls = append(myCalls, time.Since(sentAt))
			}
			acks.Wait()
			mu.Lock()
			lags = append(lags, myLags...)
			calls = append(calls, myCalls...)
			sent += len(myLags)
			mu.Unlock()
		}(cl)
	}
	done.Wait()
	wall := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	for _, cl := range clients {
		cl.Close()
	}
	out, _ := json.Marshal(report{
		Producers: *producers, RatePerConnection: *rate, Sent: sent, Acked: len(latencies), Errors: errors,
		FirstError: firstError, LatencyMs: percentiles(latencies), SendLagMs: percentiles(lags),
		CPUSeconds: cpu, WallSeconds: wall, WorstBySecond: worst, ProduceCallMs: percentiles(calls),
	})
	fmt.Println(string(out))
}
