package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzReadAll reads topic from the start at an isolation level until the partition end is reached (a
// fetch with no more records for a second, after at least want records).
func franzReadAll(ctx context.Context, bootstrap, topic string, isolation kgo.IsolationLevel, want int) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(isolation),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var got []string
	quietSince := time.Now()
	for len(got) < want || time.Since(quietSince) < time.Second {
		pollCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return got, fmt.Errorf("read %d of %d records: %w", len(got), want, ctx.Err())
		}
		n := 0
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)); n++ })
		if n > 0 {
			quietSince = time.Now()
		}
	}
	return got, nil
}

// franzTransactions: a transactional producer (kgo.TransactionalID) commits one transaction and aborts the next;
// read_committed sees the committed records only, read_uncommitted both; a second client with the same
// transactional id fences the first, whose next commit fails.
func franzTransactions(bootstrap, name, _ string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	topic := name + "-out"
	if err := franzCreate(ctx, kadm.NewClient(admCl), 1, topic); err != nil {
		return nil, err
	}
	newProducer := func() (*kgo.Client, error) {
		return kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.DefaultProduceTopic(topic),
			kgo.TransactionalID(name+"-txn"), kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	transaction := func(cl *kgo.Client, prefix string, n int, commit kgo.TransactionEndTry) error {
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s%d", prefix, i))}).FirstErr(); err != nil {
				return fmt.Errorf("produce: %w", err)
			}
		}
		return cl.EndTransaction(ctx, commit)
	}
	first, err := newProducer()
	if err != nil {
		return nil, err
	}
	defer first.Close()
	if err := transaction(first, "c", 5, kgo.TryCommit); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if err := transaction(first, "a", 3, kgo.TryAbort); err != nil {
		return nil, fmt.Errorf("abort: %w", err)
	}
	// an open transaction of the first producer, then a successor with the same transactional id
	if err := first.BeginTransaction(); err != nil {
		return nil, err
	}
	if err := first.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		return nil, fmt.Errorf("zombie produce: %w", err)
	}
	second, err := newProducer()
	if err != nil {
		return nil, err
	}
	defer second.Close()
	if err := transaction(second, "s", 2, kgo.TryCommit); err != nil {
		return nil, fmt.Errorf("successor: %w", err)
	}
	fenced := first.EndTransaction(ctx, kgo.TryCommit)
	committed, err := franzReadAll(ctx, bootstrap, topic, kgo.ReadCommitted(), 7)
	if err != nil {
		return nil, err
	}
	uncommitted, err := franzReadAll(ctx, bootstrap, topic, kgo.ReadUncommitted(), 11)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"committed":    committed,
		"uncommitted":  uncommitted,
		"zombie_error": errText(fenced),
	}, nil
}
