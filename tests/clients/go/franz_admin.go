package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzAdmin walks kadm through the admin APIs brook has: create topics (with a config), create partitions,
// describe and alter configs (incremental), list offsets (start, end, by time), delete records, a member-less
// group's offsets (commit, fetch, OffsetDelete, DeleteGroups), log dirs, delete topics.
func franzAdmin(bootstrap, name, _ string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	report := map[string]any{}
	topic, other := name, name+"-other"

	created, err := adm.CreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic, other)
	if err != nil {
		return nil, err
	}
	createErrs := map[string]string{}
	for t, r := range created {
		createErrs[t] = errText(r.Err)
	}
	again, err := adm.CreateTopics(ctx, 2, 1, nil, topic)
	if err != nil {
		return nil, err
	}
	report["create"] = createErrs
	report["create_again"] = errText(again[topic].Err)

	parts, err := adm.CreatePartitions(ctx, 2, topic)
	if err != nil {
		return nil, err
	}
	report["create_partitions"] = errText(parts[topic].Err)
	listed, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	report["partitions_after"] = len(listed[topic].Partitions)

	configValue := func(rc kadm.ResourceConfigs, key string) (string, string) {
		for _, r := range rc {
			for _, c := range r.Configs {
				if c.Key == key {
					return c.MaybeValue(), c.Source.String()
				}
			}
		}
		return "<missing>", ""
	}
	described, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	value, source := configValue(described, "retention.ms")
	cleanup, _ := configValue(described, "cleanup.policy")
	report["describe"] = map[string]string{"retention.ms": value, "retention.ms.source": source, "cleanup.policy": cleanup}

	altered, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("7200000")},
		{Op: kadm.SetConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
	}, topic)
	if err != nil {
		return nil, err
	}
	report["alter"] = errText(altered[0].Err)
	described, err = adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, err
	}
	value, _ = configValue(described, "retention.ms")
	cleanup, _ = configValue(described, "cleanup.policy")
	report["describe_after_alter"] = map[string]string{"retention.ms": value, "cleanup.policy": cleanup}
	bad, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "no.such.config", Value: kadm.StringPtr("1")},
	}, topic)
	if err != nil {
		return nil, err
	}
	report["alter_unknown"] = errText(bad[0].Err)

	// Ten records to partition 0, the first five an hour old.
	producer, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var rs []*kgo.Record
	for i := 0; i < 10; i++ {
		ts := now
		if i < 5 {
			ts = now.Add(-time.Hour)
		}
		rs = append(rs, &kgo.Record{Topic: other, Partition: 0, Value: []byte(fmt.Sprint(i)), Timestamp: ts})
	}
	err = producer.ProduceSync(ctx, rs...).FirstErr()
	producer.Close()
	if err != nil {
		return nil, err
	}
	offsets := func(lo kadm.ListedOffsets, lerr error) any {
		if lerr != nil {
			return lerr.Error()
		}
		out := map[string]any{}
		lo.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				out[fmt.Sprint(o.Partition)] = o.Err.Error()
			} else {
				out[fmt.Sprint(o.Partition)] = o.Offset
			}
		})
		return out
	}
	report["start_offsets"] = offsets(adm.ListStartOffsets(ctx, other))
	report["end_offsets"] = offsets(adm.ListEndOffsets(ctx, other))
	report["offsets_after_30min_ago"] = offsets(adm.ListOffsetsAfterMilli(ctx, now.Add(-30*time.Minute).UnixMilli(), other))

	var toDelete kadm.Offsets
	toDelete.Add(kadm.Offset{Topic: other, Partition: 0, At: 3})
	deleted, err := adm.DeleteRecords(ctx, toDelete)
	if err != nil {
		return nil, err
	}
	d, _ := deleted.Lookup(other, 0)
	report["delete_records"] = map[string]any{"low_watermark": d.LowWatermark, "error": errText(d.Err)}
	report["start_offsets_after_delete"] = offsets(adm.ListStartOffsets(ctx, other))

	// A group's offsets without members: commit, fetch, delete one partition's (OffsetDelete), delete the group.
	group := name + "-group"
	var commit kadm.Offsets
	commit.AddOffset(other, 0, 7, -1)
	commit.AddOffset(other, 1, 0, -1)
	committed, err := adm.CommitOffsets(ctx, group, commit)
	if err != nil {
		return nil, err
	}
	report["commit_offsets"] = errText(committed.Error())
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	report["fetch_offsets"] = offsetsReport(fetched)
	removed, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{other: {0: {}}})
	if err != nil {
		return nil, err
	}
	report["delete_offsets"] = errText(removed.Error())
	if fetched, err = adm.FetchOffsets(ctx, group); err != nil {
		return nil, err
	}
	report["fetch_offsets_after_delete"] = offsetsReport(fetched)
	groupsDeleted, err := adm.DeleteGroups(ctx, group)
	if err != nil {
		return nil, err
	}
	report["delete_group"] = errText(groupsDeleted[group].Err)
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	_, stillListed := groups[group]
	report["group_listed_after_delete"] = stillListed

	// Log dirs: the size of each partition of `other` on the broker's one directory.
	dirs, err := adm.DescribeAllLogDirs(ctx, kadm.TopicsSet{other: {0: {}, 1: {}}})
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	dirCount := 0
	dirs.Each(func(d kadm.DescribedLogDir) {
		dirCount++
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) { sizes[fmt.Sprint(p.Partition)] = p.Size })
	})
	report["log_dirs"] = map[string]any{"dirs": dirCount, "partition_sizes": sizes}

	dropped, err := adm.DeleteTopics(ctx, topic, other)
	if err != nil {
		return nil, err
	}
	dropErrs := map[string]string{}
	for t, r := range dropped {
		dropErrs[t] = errText(r.Err)
	}
	report["delete_topics"] = dropErrs
	// Deletion is asynchronous in Kafka too: wait until the topics are gone from metadata.
	err = waitFor(ctx, "deleted topics to leave metadata", func() bool {
		left, lerr := adm.ListTopics(ctx)
		return lerr == nil && !left.Has(topic) && !left.Has(other)
	})
	report["gone_after_delete"] = err == nil
	return report, nil
}
