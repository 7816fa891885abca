package brook.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;

/** A KafkaProducer with String keys and values: sends a list of records, flushes, answers their metadata. */
final class ProducerOps implements AutoCloseable {
  private final KafkaProducer<String, String> producer;
  private boolean transactionsInitialized;

  ProducerOps(Properties config) {
    config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    producer = new KafkaProducer<>(config);
  }

  /**
   * {"topic": t, "records": [{"key", "value", "headers": [[k, v]], "partition", "timestamp"}], "pace_ms": n}:
   * sends every record (pace_ms apart), flushes, and answers each record's metadata or its exception.
   */
  List<Map<String, Object>> send(JsonNode cmd) throws Exception {
    // "transaction": {"commit": bool, "offsets": {"group", "topic", "partition", "offset"}}: the records go in
    // one transaction (initTransactions on the first), with the offsets sent to it, then committed or aborted.
    JsonNode txn = cmd.path("transaction");
    boolean transactional = !txn.isMissingNode();
    if (transactional) {
      if (!transactionsInitialized) {
        producer.initTransactions();
        transactionsInitialized = true;
      }
      producer.beginTransaction();
    }
    String topic = cmd.path("topic").asText();
    long paceMs = cmd.path("pace_ms").asLong(0);
    List<Future<RecordMetadata>> futures = new ArrayList<>();
    for (JsonNode record : cmd.path("records")) {
      if (paceMs > 0) {
        Thread.sleep(paceMs); // a steady stream, so a test can restart the broker in the middle of it
      }
      Integer partition = record.hasNonNull("partition") ? record.get("partition").asInt() : null;
      Long timestamp = record.hasNonNull("timestamp") ? record.get("timestamp").asLong() : null;
      String key = record.hasNonNull("key") ? record.get("key").asText() : null;
      String value = record.hasNonNull("value") ? record.get("value").asText() : null;
      ProducerRecord<String, String> producerRecord =
          new ProducerRecord<>(topic, partition, timestamp, key, value);
      for (JsonNode header : record.path("headers")) {
        byte[] headerValue =
            header.get(1).isNull() ? null : header.get(1).asText().getBytes(StandardCharsets.UTF_8);
        producerRecord.headers().add(header.get(0).asText(), headerValue);
      }
      futures.add(producer.send(producerRecord));
    }
    producer.flush();
    if (transactional) {
      JsonNode offsets = txn.path("offsets");
      if (!offsets.isMissingNode()) {
        Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
        positions.put(
            new TopicPartition(offsets.path("topic").asText(), offsets.path("partition").asInt()),
            new OffsetAndMetadata(offsets.path("offset").asLong()));
        producer.sendOffsetsToTransaction(
            positions, new ConsumerGroupMetadata(offsets.path("group").asText()));
      }
      if (txn.path("commit").asBoolean(true)) {
        producer.commitTransaction();
      } else {
        producer.abortTransaction();
      }
    }
    List<Map<String, Object>> result = new ArrayList<>();
    for (Future<RecordMetadata> future : futures) {
      Map<String, Object> entry = new LinkedHashMap<>();
      try {
        RecordMetadata metadata = future.get();
        entry.put("partition", metadata.partition());
        entry.put("offset", metadata.offset());
        entry.put("timestamp", metadata.timestamp());
      } catch (java.util.concurrent.ExecutionException exc) {
        entry.put("error", Json.error(exc));
      }
      result.add(entry);
    }
    return result;
  }

  @Override
  public void close() {
    producer.close();
  }
}
