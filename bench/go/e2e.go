package main

// The end-to-end latency mode (-mode e2e): one producer (acks=all, linger 5 ms, no compression, no
// idempotence, as bench/workloads.py's librdkafka producer) sends records of -size bytes to partition 0 at a
// fixed total -rate for -seconds, and one consumer (its own client and connection, fetch.max.wait 500 ms,
// fetch.min.bytes 1: the Java and librdkafka defaults) reads them; a record's latency is from the moment the
// producer was handed it to the moment the consumer returned it (send time in the value, one process, one
// monotonic clock). Also the producer's own send->ack latency ("dr", as librdkafka's delivery report).

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type e2eReport struct {
	Sent       int                `json:"sent"`
	Received   int                `json:"received"`
	Errors     int                `json:"errors"`
	FirstError string             `json:"first_error"`
	EndToEndMs map[string]float64 `json:"e2e_ms"`
	AckMs      map[string]float64 `json:"ack_ms"`
	CPUSeconds float64            `json:"cpu_s"`
	WallSecs   float64            `json:"wall_s"`
}

const (
	warmMark  = 'w'
	timedMark = 't'
)

func endToEnd(bootstrap, topic string, rate, seconds float64, size int, common []kgo.Opt, gate func()) (*e2eReport, error) {
	if size < 9 {
		size = 9
	}
	base := time.Now()
	producer, err := kgo.NewClient(append(common,
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return nil, err
	}
	defer producer.Close()
	consumer, err := kgo.NewClient(append(common,
		kgo.SeedBrokers(bootstrap),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtEnd()}}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds*float64(time.Second))+90*time.Second)
	defer cancel()

	count := int(rate * seconds)
	value := func(mark byte) []byte {
		v := make([]byte, size)
		binary.BigEndian.PutUint64(v, uint64(time.Since(base)))
		v[8] = mark
		return v
	}
	var mu sync.Mutex
	e2e := make([]time.Duration, 0, count)
	warm := make(chan struct{})
	finished := make(chan struct{})
	go func() { // the consumer
		defer close(finished)
		warmed := false
		for {
			fetches := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			now := time.Since(base)
			done := false
			fetches.EachRecord(func(r *kgo.Record) {
				if len(r.Value) < 9 {
					return
				}
				if r.Value[8] == warmMark && !warmed {
					warmed = true
					close(warm)
					return
				}
				if r.Value[8] != timedMark {
					return
				}
				mu.Lock()
				e2e = append(e2e, now-time.Duration(binary.BigEndian.Uint64(r.Value)))
				done = len(e2e) >= count
				mu.Unlock()
			})
			if done {
				return
			}
		}
	}()
	// The consumer has its position (the log end) once it has read a warm-up record sent after it started.
	for warmed := false; !warmed; {
		if err := producer.ProduceSync(ctx, &kgo.Record{Value: value(warmMark), Partition: 0}).FirstErr(); err != nil {
			return nil, fmt.Errorf("warm-up produce: %w", err)
		}
		select {
		case <-warm:
			warmed = true
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	gate()

	acks := make([]time.Duration, 0, count)
	errors, firstError := 0, ""
	var pending sync.WaitGroup
	cpu0 := cpuSeconds()
	start := time.Now()
	for sent := 0; sent < count; {
		due := int(time.Since(start).Seconds()*rate) + 1
		if due > count {
			due = count
		}
		for ; sent < due; sent++ {
			v := value(timedMark)
			sentAt := time.Since(base)
			pending.Add(1)
			producer.Produce(ctx, &kgo.Record{Value: v, Partition: 0}, func(_ *kgo.Record, err error) {
				took := time.Since(base) - sentAt
				mu.Lock()
				if err != nil {
					errors++
					if firstError == "" {
						firstError = err.Error()
					}
				} else {
					acks = append(acks, took)
				}
				mu.Unlock()
				pending.Done()
			})
		}
		time.Sleep(time.Millisecond)
	}
	pending.Wait()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "not every record was consumed within 30 s")
		cancel()
		<-finished
	}
	wall := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	mu.Lock()
	defer mu.Unlock()
	return &e2eReport{
		Sent: count, Received: len(e2e), Errors: errors, FirstError: firstError,
		EndToEndMs: percentiles(e2e), AckMs: percentiles(acks), CPUSeconds: cpu, WallSecs: wall,
	}, nil
}
