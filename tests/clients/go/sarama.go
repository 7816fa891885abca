package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

var saramaCodecs = map[string]sarama.CompressionCodec{
	"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
	"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
}

// saramaConfig is Sarama's default configuration at "default" (its own config.Version) or sarama.MaxVersion.
func saramaConfig(version string) (*sarama.Config, error) {
	c := sarama.NewConfig()
	switch version {
	case "default":
	case "max":
		c.Version = sarama.MaxVersion
	default:
		return nil, fmt.Errorf("unknown sarama version setting %q", version)
	}
	c.ClientID = "brook-sarama-" + version
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	// Closing a partition consumer waits for its fetch in flight: a short fetch wait keeps the runs quick.
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	return c, nil
}

func saramaRecord(m *sarama.ConsumerMessage) record {
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	return record{m.Topic, m.Partition, m.Offset, string(m.Key), string(m.Value), headers, m.Timestamp.UnixMilli()}
}

func saramaCreate(bootstrap string, conf *sarama.Config, partitions int32, topic string) error {
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, conf)
	if err != nil {
		return err
	}
	defer adm.Close()
	return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false)
}

// saramaReadAll reads every partition of topic from the oldest offset up to its high watermark.
func saramaReadAll(bootstrap string, conf *sarama.Config, topic string) ([]record, error) {
	client, err := sarama.NewClient([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer client.Close()
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
		timeout := time.After(30 * time.Second)
	read:
		for {
			select {
			case m := <-pc.Messages():
				got = append(got, saramaRecord(m))
				if m.Offset+1 >= end {
					break read
				}
			case e := <-pc.Errors():
				pc.Close()
				return nil, e
			case <-timeout:
				pc.Close()
				return nil, fmt.Errorf("partition %d: timed out below offset %d", p, end)
			}
		}
		pc.Close()
	}
	sortRecords(got)
	return got, nil
}

// saramaProduce: per codec, a SyncProducer with acks=all and idempotence sends keyed records with headers; a
// partition consumer reads them back.
func saramaProduce(bootstrap, name, version string) (any, error) {
	report := map[string]any{}
	for _, codec := range codecNames {
		conf, err := saramaConfig(version)
		if err != nil {
			return nil, err
		}
		topic := name + "-" + codec
		if err := saramaCreate(bootstrap, conf, 3, topic); err != nil {
			return nil, err
		}
		conf.Producer.RequiredAcks = sarama.WaitForAll
		conf.Producer.Idempotent = true
		conf.Producer.Return.Successes = true
		conf.Producer.Compression = saramaCodecs[codec]
		conf.Net.MaxOpenRequests = 1
		producer, err := sarama.NewSyncProducer([]string{bootstrap}, conf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", codec, err)
		}
		var msgs []*sarama.ProducerMessage
		for i := 0; i < 30; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{
				Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i%6)),
				Value:   sarama.StringEncoder(fmt.Sprintf("%s-v%d", codec, i)),
				Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprintf("x%d", i))}},
			})
		}
		// One at a time and then a batch: SendMessage and SendMessages.
		var produced []record
		for _, m := range msgs[:10] {
			if _, _, err := producer.SendMessage(m); err != nil {
				producer.Close()
				return nil, fmt.Errorf("%s send: %w", codec, err)
			}
		}
		if err := producer.SendMessages(msgs[10:]); err != nil {
			producer.Close()
			return nil, fmt.Errorf("%s send batch: %w", codec, err)
		}
		for i, m := range msgs {
			produced = append(produced, record{Topic: topic, Partition: m.Partition, Offset: m.Offset,
				Key: fmt.Sprintf("k%d", i%6), Value: fmt.Sprintf("%s-v%d", codec, i),
				Headers: map[string]string{"h": fmt.Sprintf("x%d", i)}})
		}
		producer.Close()
		consumed, err := saramaReadAll(bootstrap, conf, topic)
		if err != nil {
			return nil, fmt.Errorf("%s read: %w", codec, err)
		}
		sortRecords(produced)
		report[codec] = map[string]any{"produced": produced, "consumed": consumed}
	}
	return report, nil
}

// groupHandler records what a group member reads, marks each message and commits synchronously.
type groupHandler struct {
	mu       sync.Mutex
	records  []record
	claims   map[int32]bool
	progress chan struct{}
}

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range s.Claims() {
		for _, p := range ps {
			h.claims[p] = true
		}
	}
	return nil
}

func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
		s.Commit()
		h.mu.Lock()
		h.records = append(h.records, saramaRecord(m))
		h.mu.Unlock()
		select {
		case h.progress <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h *groupHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.records)
}

// saramaMember consumes topic in group until want records arrived, then leaves the group.
func saramaMember(bootstrap, version, group, topic string, want int) (*groupHandler, error) {
	conf, err := saramaConfig(version)
	if err != nil {
		return nil, err
	}
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = false
	conf.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{bootstrap}, group, conf)
	if err != nil {
		return nil, err
	}
	h := &groupHandler{claims: map[int32]bool{}, progress: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	deadline := time.After(40 * time.Second)
	var failure error
wait:
	for h.count() < want {
		select {
		case <-h.progress:
		case err := <-done:
			failure = fmt.Errorf("consume ended after %d of %d records: %v", h.count(), want, err)
			break wait
		case e := <-cg.Errors():
			failure = e
			break wait
		case <-deadline:
			failure = fmt.Errorf("read %d of %d records", h.count(), want)
			break wait
		}
	}
	// A short grace period: a member that ignored the commits would read more than it should now.
	if failure == nil {
		time.Sleep(500 * time.Millisecond)
	}
	cancel()
	if err := cg.Close(); err != nil && failure == nil {
		failure = err
	}
	return h, failure
}

func saramaProduceBatch(bootstrap, version, topic string, from, to int) error {
	conf, err := saramaConfig(version)
	if err != nil {
		return err
	}
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer([]string{bootstrap}, conf)
	if err != nil {
		return err
	}
	defer producer.Close()
	var msgs []*sarama.ProducerMessage
	for i := from; i < to; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
	}
	return producer.SendMessages(msgs)
}

// saramaGroup: a group member reads and commits 30 records and leaves; 20 more are produced; a restarted member
// must read exactly those 20 (reset is "oldest", so lost commits show up as re-read records).
func saramaGroup(bootstrap, name, version string) (any, error) {
	conf, err := saramaConfig(version)
	if err != nil {
		return nil, err
	}
	topic, group := name, name+"-group"
	if err := saramaCreate(bootstrap, conf, 3, topic); err != nil {
		return nil, err
	}
	if err := saramaProduceBatch(bootstrap, version, topic, 0, 30); err != nil {
		return nil, err
	}
	first, err := saramaMember(bootstrap, version, group, topic, 30)
	if err != nil {
		return nil, fmt.Errorf("first member: %w", err)
	}
	if err := saramaProduceBatch(bootstrap, version, topic, 30, 50); err != nil {
		return nil, err
	}
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	committed := func() (map[string]any, error) {
		resp, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for p, b := range resp.Blocks[topic] {
			if b.Err != sarama.ErrNoError {
				out[fmt.Sprint(p)] = b.Err.Error()
			} else {
				out[fmt.Sprint(p)] = b.Offset
			}
		}
		return out, nil
	}
	afterFirst, err := committed()
	if err != nil {
		return nil, err
	}
	second, err := saramaMember(bootstrap, version, group, topic, 20)
	if err != nil {
		return nil, fmt.Errorf("restarted member: %w", err)
	}
	final, err := committed()
	if err != nil {
		return nil, err
	}
	groups, err := adm.ListConsumerGroups()
	if err != nil {
		return nil, err
	}
	described, err := adm.DescribeConsumerGroups([]string{group})
	if err != nil {
		return nil, err
	}
	firstRecords, secondRecords := first.records, second.records
	sortRecords(firstRecords)
	sortRecords(secondRecords)
	return map[string]any{
		"first": firstRecords, "restarted": secondRecords,
		"committed_after_first": afterFirst, "committed_final": final,
		"listed_protocol_type": groups[group], "described_state": described[0].State,
		"described_error": int16(described[0].Err),
	}, nil
}

// saramaAdmin: ClusterAdmin's basics: create/list/describe topics, create partitions, describe and alter configs,
// delete records, describe the cluster, delete topics.
func saramaAdmin(bootstrap, name, version string) (any, error) {
	conf, err := saramaConfig(version)
	if err != nil {
		return nil, err
	}
	adm, err := sarama.NewClusterAdmin([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	report := map[string]any{}
	retention := "3600000"
	err = adm.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}, false)
	report["create"] = errText(err)
	report["create_again"] = errText(adm.CreateTopic(name, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false))
	report["create_partitions"] = errText(adm.CreatePartitions(name, 3, nil, false))
	topics, err := adm.ListTopics()
	if err != nil {
		return nil, err
	}
	report["listed_partitions"] = topics[name].NumPartitions
	described, err := adm.DescribeTopics([]string{name})
	if err != nil {
		return nil, err
	}
	report["described_partitions"] = len(described[0].Partitions)
	brokers, controller, err := adm.DescribeCluster()
	if err != nil {
		return nil, err
	}
	report["cluster"] = map[string]any{"brokers": len(brokers), "controller": controller}

	configOf := func() (map[string]string, error) {
		entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: name})
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for _, e := range entries {
			if e.Name == "retention.ms" || e.Name == "cleanup.policy" {
				out[e.Name] = e.Value
			}
		}
		return out, nil
	}
	if report["describe"], err = configOf(); err != nil {
		return nil, err
	}
	newRetention := "7200000"
	report["alter"] = errText(adm.AlterConfig(sarama.TopicResource, name, map[string]*string{"retention.ms": &newRetention}, false))
	if report["describe_after_alter"], err = configOf(); err != nil {
		return nil, err
	}
	compact := "compact"
	report["incremental_alter"] = errText(adm.IncrementalAlterConfig(sarama.TopicResource, name,
		map[string]sarama.IncrementalAlterConfigsEntry{"cleanup.policy": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &compact}}, false))
	if report["describe_after_incremental"], err = configOf(); err != nil {
		return nil, err
	}

	if err := saramaProduceBatch(bootstrap, version, name, 0, 30); err != nil {
		return nil, err
	}
	client, err := sarama.NewClient([]string{bootstrap}, conf)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	end, err := client.GetOffset(name, 0, sarama.OffsetNewest)
	if err != nil {
		return nil, err
	}
	report["delete_records"] = errText(adm.DeleteRecords(name, map[int32]int64{0: end / 2}))
	start, err := client.GetOffset(name, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, err
	}
	report["offsets_after_delete"] = map[string]int64{"start": start, "end": end}
	report["delete_topic"] = errText(adm.DeleteTopic(name))
	return report, nil
}
