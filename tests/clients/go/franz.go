package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var franzCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

func franzRecord(r *kgo.Record) record {
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	return record{r.Topic, r.Partition, r.Offset, string(r.Key), string(r.Value), headers, r.Timestamp.UnixMilli()}
}

func franzCreate(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return err
	}
	return resp.Error()
}

// franzConsumeAll reads topics from the start without a group until want records arrived.
func franzConsumeAll(ctx context.Context, bootstrap string, want int, topics ...string) ([]record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var got []record
	for len(got) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return got, fmt.Errorf("consumed %d of %d records: %w", len(got), want, ctx.Err())
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return got, fmt.Errorf("fetch: %v", errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, franzRecord(r)) })
	}
	sortRecords(got)
	return got, nil
}

// franzProduce: per codec, an idempotent producer (acks=all) sends keyed records with headers to a 3-partition
// topic; a plain consumer reads them back.
func franzProduce(bootstrap, name, _ string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	report := map[string]any{}
	for _, codec := range codecNames {
		topic := name + "-" + codec
		if err := franzCreate(ctx, adm, 3, topic); err != nil {
			return nil, err
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic),
			kgo.ProducerBatchCompression(franzCodecs[codec]), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			return nil, err
		}
		var rs []*kgo.Record
		for i := 0; i < 40; i++ {
			rs = append(rs, &kgo.Record{
				Key:     []byte(fmt.Sprintf("k%d", i%8)),
				Value:   []byte(fmt.Sprintf("%s-v%d-%s", codec, i, strings.Repeat("brook", 20))),
				Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprintf("x%d", i))}, {Key: "codec", Value: []byte(codec)}},
			})
		}
		var produced []record
		for _, res := range cl.ProduceSync(ctx, rs...) {
			if res.Err != nil {
				cl.Close()
				return nil, fmt.Errorf("%s produce: %w", codec, res.Err)
			}
			produced = append(produced, franzRecord(res.Record))
		}
		producerID, epoch, err := cl.ProducerID(ctx)
		cl.Close()
		if err != nil {
			return nil, err
		}
		consumed, err := franzConsumeAll(ctx, bootstrap, len(rs), topic)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", codec, err)
		}
		sortRecords(produced)
		report[codec] = map[string]any{
			"producer_id": producerID, "producer_epoch": epoch, "produced": produced, "consumed": consumed,
		}
	}
	return report, nil
}

// member is one consumer-group member polling in its own goroutine, committing after every poll.
type member struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	records  []record
	errs     []string
	done     chan struct{}
}

func newMember(bootstrap, group, topic string) (*member, error) {
	m := &member{assigned: map[int32]bool{}, done: make(chan struct{})}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(250*time.Millisecond), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
		}))
	if err != nil {
		return nil, err
	}
	m.cl = cl
	return m, nil
}

func (m *member) run(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		fetches := m.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var got []record
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, franzRecord(r)) })
		var errs []string
		fetches.EachError(func(t string, p int32, err error) { errs = append(errs, fmt.Sprintf("%s/%d: %v", t, p, err)) })
		if len(got) > 0 {
			if err := m.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				errs = append(errs, "commit: "+err.Error())
			}
		}
		m.mu.Lock()
		m.records = append(m.records, got...)
		m.errs = append(m.errs, errs...)
		m.mu.Unlock()
	}
}

func (m *member) snapshot() (partitions []int32, records []record, errs []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.assigned {
		partitions = append(partitions, p)
	}
	return partitions, append([]record(nil), m.records...), append([]string(nil), m.errs...)
}

func waitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func franzProduceBatch(ctx context.Context, cl *kgo.Client, topic string, from, to int) error {
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	return cl.ProduceSync(ctx, rs...).FirstErr()
}

// franzGroup: two members share a 4-partition topic and commit what they read; both close. More records are
// produced, and a restarted member must resume at the committed offsets (reset is "start", so lost commits show
// up as re-read records).
func franzGroup(bootstrap, name, _ string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	topic, group := name, name+"-group"
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := franzCreate(ctx, adm, 4, topic); err != nil {
		return nil, err
	}
	a, err := newMember(bootstrap, group, topic)
	if err != nil {
		return nil, err
	}
	b, err := newMember(bootstrap, group, topic)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	go a.run(runCtx)
	go b.run(runCtx)
	balanced := func() bool {
		pa, _, _ := a.snapshot()
		pb, _, _ := b.snapshot()
		return len(pa) > 0 && len(pb) > 0 && len(pa)+len(pb) == 4
	}
	if err := waitFor(ctx, "both members to own partitions", balanced); err != nil {
		stop()
		return nil, err
	}
	if err := franzProduceBatch(ctx, cl, topic, 0, 40); err != nil {
		stop()
		return nil, err
	}
	consumedAll := func() bool {
		_, ra, _ := a.snapshot()
		_, rb, _ := b.snapshot()
		return len(ra)+len(rb) >= 40
	}
	err = waitFor(ctx, "40 records", consumedAll)
	pa, _, _ := a.snapshot()
	pb, _, _ := b.snapshot()
	described, derr := adm.DescribeGroups(ctx, group)
	listed, lerr := adm.ListGroups(ctx)
	stop()
	<-a.done
	<-b.done
	a.cl.Close()
	b.cl.Close()
	if err != nil {
		return nil, err
	}
	if derr != nil || lerr != nil {
		return nil, errors.Join(derr, lerr)
	}
	_, ra, ea := a.snapshot()
	_, rb, eb := b.snapshot()
	desc := described[group]
	memberCount := len(desc.Members)
	_, isListed := listed[group]
	report := map[string]any{
		"first": []map[string]any{
			{"partitions": pa, "records": ra, "errors": ea},
			{"partitions": pb, "records": rb, "errors": eb},
		},
		"described": map[string]any{
			"state": desc.State, "protocol_type": desc.ProtocolType, "protocol": desc.Protocol,
			"members": memberCount, "error": errText(desc.Err),
		},
		"listed": isListed,
	}
	if err := franzProduceBatch(ctx, cl, topic, 40, 60); err != nil {
		return nil, err
	}
	afterClose, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	report["committed_after_close"] = offsetsReport(afterClose)
	// The restarted member: a new client of the same group.
	c, err := newMember(bootstrap, group, topic)
	if err != nil {
		return nil, err
	}
	runCtx, stop = context.WithCancel(ctx)
	go c.run(runCtx)
	err = waitFor(ctx, "the restarted member to read 20 new records", func() bool {
		_, rc, _ := c.snapshot()
		return len(rc) >= 20
	})
	// A short grace period: a member that ignored the commits would re-read batch one now.
	if err == nil {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
	}
	stop()
	<-c.done
	c.cl.Close()
	if err != nil {
		return nil, err
	}
	_, rc, ec := c.snapshot()
	report["restarted"] = map[string]any{"records": rc, "errors": ec}
	final, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	report["committed_final"] = offsetsReport(final)
	return report, nil
}

// offsetsReport maps "partition" to the committed offset (or the error text) of the only topic.
func offsetsReport(os kadm.OffsetResponses) map[string]any {
	out := map[string]any{}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			out[fmt.Sprint(o.Partition)] = o.Err.Error()
		} else {
			out[fmt.Sprint(o.Partition)] = o.At
		}
	})
	return out
}
