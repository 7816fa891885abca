// brookgo-debian drives Debian's Sarama (golang-github-shopify-sarama-dev, Sarama 1.22) against a running brook
// for tests/clients/test_sarama_debian.py. It is built in GOPATH mode against /usr/share/gocode, the way Debian's
// own Go packages build, so the code under test is Debian's, not the module proxy's. One scenario per invocation:
//
//	brookgo-debian <scenario> <bootstrap> <topic>
//
// The topic exists already (2 partitions). Sarama runs at its default config.Version (0.8.2.0: Metadata v0,
// Produce v0, Fetch v0, ListOffsets v0, OffsetCommit v1, OffsetFetch v1) except where Sarama itself refuses an
// API below a version (ClusterAdmin needs 0.10; its DescribeConfig then sends DescribeConfigs v0).
// It prints one JSON object on stdout and exits 0; failures print to stderr and exit 1.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/Shopify/sarama"
)

type record struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

const group = "debian-sarama-group"

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: brookgo-debian <scenario> <bootstrap> <topic>")
		os.Exit(2)
	}
	scenarios := map[string]func(bootstrap, topic string) (interface{}, error){
		"metadata":         metadata,
		"describe-configs": describeConfigs,
		"produce-consume":  produceConsume,
		"list-offsets":     listOffsets,
		"offsets-resume":   offsetsResume,
		"offsets-v0":       offsetsV0,
	}
	run, ok := scenarios[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown scenario %q\n", os.Args[1])
		os.Exit(2)
	}
	go func() {
		time.Sleep(60 * time.Second)
		fmt.Fprintln(os.Stderr, "scenario did not finish within 60s")
		os.Exit(1)
	}()
	report, err := run(os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	out, err := json.Marshal(report)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func newClient(bootstrap string) (sarama.Client, error) {
	conf := sarama.NewConfig() // Version: sarama.MinVersion (0.8.2.0), Sarama 1.22's default
	conf.ClientID = "brook-debian-sarama"
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	return sarama.NewClient([]string{bootstrap}, conf)
}

// metadata: the topic list and partition leaders, from Metadata v0.
func metadata(bootstrap, topic string) (interface{}, error) {
	client, err := newClient(bootstrap)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	topics, err := client.Topics()
	if err != nil {
		return nil, err
	}
	partitions, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	leaders := map[string]int32{}
	for _, p := range partitions {
		leader, err := client.Leader(topic, p)
		if err != nil {
			return nil, err
		}
		leaders[fmt.Sprint(p)] = leader.ID()
	}
	return map[string]interface{}{
		"version": client.Config().Version.String(), "topics": topics, "partitions": partitions,
		"leaders": leaders, "brokers": len(client.Brokers()),
	}, nil
}

// describeConfigs: ClusterAdmin.DescribeConfig, which Sarama 1.22 always sends as DescribeConfigs v0.
func describeConfigs(bootstrap, topic string) (interface{}, error) {
	conf := sarama.NewConfig()
	conf.Version = sarama.V0_11_0_0 // the lowest version at which Sarama sends DescribeConfigs at all
	admin, err := sarama.NewClusterAdmin([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return nil, err
	}
	configs := map[string]interface{}{}
	for _, e := range entries {
		configs[e.Name] = map[string]interface{}{"value": e.Value, "default": e.Default, "read_only": e.ReadOnly}
	}
	_, missingErr := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic + "-missing"})
	return map[string]interface{}{"configs": configs, "missing_topic_error": errText(missingErr)}, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// produceConsume: a SyncProducer (Produce v0, message format v0) sends keyed messages; a consumer (Fetch v0)
// reads every partition back from the oldest offset.
func produceConsume(bootstrap, topic string) (interface{}, error) {
	client, err := newClient(bootstrap)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	client.Config().Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		return nil, err
	}
	var produced []record
	for i := 0; i < 20; i++ {
		key, value := fmt.Sprintf("k%d", i%4), fmt.Sprintf("v%d", i)
		p, o, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key),
			Value: sarama.StringEncoder(value)})
		if err != nil {
			producer.Close()
			return nil, err
		}
		produced = append(produced, record{p, o, key, value})
	}
	if err := producer.Close(); err != nil {
		return nil, err
	}
	consumed, err := readAll(client, topic)
	if err != nil {
		return nil, err
	}
	sortRecords(produced)
	return map[string]interface{}{"produced": produced, "consumed": consumed}, nil
}

func sortRecords(rs []record) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Partition != rs[j].Partition {
			return rs[i].Partition < rs[j].Partition
		}
		return rs[i].Offset < rs[j].Offset
	})
}

func readAll(client sarama.Client, topic string) ([]record, error) {
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	partitions, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	var got []record
	for _, p := range partitions {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		if end == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		got, err = readUntil(pc, got, end)
		pc.Close()
		if err != nil {
			return nil, fmt.Errorf("partition %d: %v", p, err)
		}
	}
	sortRecords(got)
	return got, nil
}

func readUntil(pc sarama.PartitionConsumer, got []record, end int64) ([]record, error) {
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-pc.Messages():
			got = append(got, record{m.Partition, m.Offset, string(m.Key), string(m.Value)})
			if m.Offset+1 >= end {
				return got, nil
			}
		case e := <-pc.Errors():
			return got, e
		case <-timeout:
			return got, fmt.Errorf("timed out below offset %d", end)
		}
	}
}

// listOffsets: Client.GetOffset (ListOffsets v0, one offset asked for) for the oldest and newest offsets and
// for times; v0 answers a time from segment modification times (Kafka's legacyFetchOffsetsBefore).
func listOffsets(bootstrap, topic string) (interface{}, error) {
	client, err := newClient(bootstrap)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	out := map[string]interface{}{}
	now := time.Now()
	for _, p := range []int32{0, 1} {
		get := func(at int64) interface{} {
			offset, err := client.GetOffset(topic, p, at)
			if err != nil {
				return err.Error()
			}
			return offset
		}
		out[fmt.Sprint(p)] = map[string]interface{}{
			"oldest": get(sarama.OffsetOldest), "newest": get(sarama.OffsetNewest),
			"in_an_hour":  get(now.Add(time.Hour).UnixNano() / int64(time.Millisecond)),
			"an_hour_ago": get(now.Add(-time.Hour).UnixNano() / int64(time.Millisecond)),
		}
	}
	return out, nil
}

// offsetsResume: an OffsetManager (FindCoordinator v0, OffsetFetch v1, OffsetCommit v1) tracks a consumer that
// reads partition 0 and commits; a second OffsetManager for the same group resumes at the committed offset.
func offsetsResume(bootstrap, topic string) (interface{}, error) {
	resume := func(read int) (int64, []record, error) {
		client, err := newClient(bootstrap)
		if err != nil {
			return 0, nil, err
		}
		defer client.Close()
		client.Config().Consumer.Offsets.Initial = sarama.OffsetOldest
		om, err := sarama.NewOffsetManagerFromClient(group, client)
		if err != nil {
			return 0, nil, err
		}
		pom, err := om.ManagePartition(topic, 0)
		if err != nil {
			om.Close()
			return 0, nil, err
		}
		start, _ := pom.NextOffset()
		consumer, err := sarama.NewConsumerFromClient(client)
		if err != nil {
			om.Close()
			return 0, nil, err
		}
		pc, err := consumer.ConsumePartition(topic, 0, start)
		if err != nil {
			consumer.Close()
			om.Close()
			return 0, nil, err
		}
		first := start
		if first < 0 { // no commit: Offsets.Initial (OffsetOldest), resolved through ListOffsets v0
			if first, err = client.GetOffset(topic, 0, start); err != nil {
				pc.Close()
				consumer.Close()
				om.Close()
				return 0, nil, err
			}
		}
		got, err := readUntil(pc, nil, first+int64(read))
		for _, r := range got {
			pom.MarkOffset(r.Offset+1, "")
		}
		pc.Close()
		consumer.Close()
		pom.Close()
		om.Close() // commits what was marked
		return start, got, err
	}
	firstStart, first, err := resume(4)
	if err != nil {
		return nil, fmt.Errorf("first: %v", err)
	}
	secondStart, second, err := resume(3)
	if err != nil {
		return nil, fmt.Errorf("second: %v", err)
	}
	thirdStart, _, err := resume(0)
	if err != nil {
		return nil, fmt.Errorf("third: %v", err)
	}
	return map[string]interface{}{
		"first_start": firstStart, "first": first, "second_start": secondStart, "second": second,
		"third_start": thirdStart,
	}, nil
}

// offsetsV0: Sarama's raw OffsetCommit v0 and OffsetFetch v0 requests to the group's coordinator.
func offsetsV0(bootstrap, topic string) (interface{}, error) {
	client, err := newClient(bootstrap)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	coordinator, err := client.Coordinator(group + "-v0")
	if err != nil {
		return nil, err
	}
	fetch := func() (interface{}, error) {
		req := &sarama.OffsetFetchRequest{Version: 0, ConsumerGroup: group + "-v0"}
		req.AddPartition(topic, 0)
		req.AddPartition(topic, 1)
		resp, err := coordinator.FetchOffset(req)
		if err != nil {
			return nil, err
		}
		out := map[string]interface{}{}
		for _, p := range []int32{0, 1} {
			b := resp.GetBlock(topic, p)
			if b == nil {
				out[fmt.Sprint(p)] = "missing"
			} else {
				out[fmt.Sprint(p)] = map[string]interface{}{"offset": b.Offset, "metadata": b.Metadata, "error": int16(b.Err)}
			}
		}
		return out, nil
	}
	before, err := fetch()
	if err != nil {
		return nil, fmt.Errorf("fetch before commit: %v", err)
	}
	commit := &sarama.OffsetCommitRequest{Version: 0, ConsumerGroup: group + "-v0"}
	commit.AddBlock(topic, 0, 5, 0, "v0-meta")
	commit.AddBlock(topic, 1, 2, 0, "")
	resp, err := coordinator.CommitOffset(commit)
	if err != nil {
		return nil, fmt.Errorf("commit: %v", err)
	}
	committed := map[string]int16{}
	for p, kerr := range resp.Errors[topic] {
		committed[fmt.Sprint(p)] = int16(kerr)
	}
	after, err := fetch()
	if err != nil {
		return nil, fmt.Errorf("fetch after commit: %v", err)
	}
	return map[string]interface{}{"before": before, "commit_errors": committed, "after": after}, nil
}
