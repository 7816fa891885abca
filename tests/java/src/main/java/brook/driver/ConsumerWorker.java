package brook.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A KafkaConsumer on its own thread, polling all the time like an application does (so rebalances and heartbeats
 * go on while the test talks to other consumers). Records are buffered for the test; other operations (commit,
 * seek, offsetsForTimes, ...) run on the consumer's thread between two polls, as KafkaConsumer requires.
 */
final class ConsumerWorker {
  private static final Duration POLL = Duration.ofMillis(50);

  final String name;
  private final KafkaConsumer<String, String> consumer;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private final List<Map<String, Object>> records = new ArrayList<>();
  private final List<Map<String, Object>> events = new ArrayList<>();
  private final List<Map<String, Object>> pollErrors = new ArrayList<>();
  private volatile boolean fenced = false;
  private volatile List<List<Object>> assignment = List.of();
  private volatile String memberId = "";
  private volatile int generation = -1;
  private volatile boolean running = true;

  ConsumerWorker(String name, JsonNode cmd) {
    this.name = name;
    Properties config = Json.props(cmd.path("config"));
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    consumer = new KafkaConsumer<>(config);
    if (cmd.has("subscribe")) {
      List<String> topics = new ArrayList<>();
      cmd.get("subscribe").forEach(t -> topics.add(t.asText()));
      consumer.subscribe(topics, new Listener());
    } else {
      consumer.assign(Json.tps(cmd.path("assign")));
    }
    thread = new Thread(this::run, "consumer-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  private final class Listener implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      event("revoked", partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      event("assigned", partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      event("lost", partitions);
    }
  }

  private void event(String type, Collection<TopicPartition> partitions) {
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("type", type);
    entry.put("partitions", pairs(partitions));
    synchronized (events) {
      events.add(entry);
    }
  }

  private static List<List<Object>> pairs(Collection<TopicPartition> partitions) {
    List<List<Object>> result = new ArrayList<>();
    for (TopicPartition tp : partitions) {
      result.add(List.of(tp.topic(), tp.partition()));
    }
    result.sort((a, b) -> (a.get(0) + "/" + a.get(1)).compareTo(b.get(0) + "/" + b.get(1)));
    return result;
  }

  private void run() {
    try {
      while (running) {
        Runnable task;
        while ((task = tasks.poll()) != null) {
          task.run();
        }
        if (!running) {
          break;
        }
        if (fenced) {
          // FencedInstanceIdException is fatal (Kafka's javadoc): an application stops polling and closes the
          // consumer; polling on would rejoin and take the group.instance.id back from the member that fenced it
          Thread.sleep(50);
          continue;
        }
        try {
          for (ConsumerRecord<String, String> record : consumer.poll(POLL)) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("topic", record.topic());
            entry.put("partition", record.partition());
            entry.put("offset", record.offset());
            entry.put("timestamp", record.timestamp());
            entry.put("key", record.key());
            entry.put("value", record.value());
            entry.put("headers", Json.headers(record.headers()));
            synchronized (records) {
              records.add(entry);
              records.notifyAll();
            }
          }
          snapshot();
        } catch (Exception exc) {
          synchronized (pollErrors) {
            pollErrors.add(Json.error(exc));
          }
          fenced = exc instanceof FencedInstanceIdException;
          Thread.sleep(50);
        }
      }
    } catch (InterruptedException exc) {
      Thread.currentThread().interrupt();
    }
  }

  private void snapshot() {
    assignment = pairs(consumer.assignment());
    try {
      memberId = consumer.groupMetadata().memberId();
      generation = consumer.groupMetadata().generationId();
    } catch (Exception exc) {
      // no group (assign mode)
    }
  }

  /** Runs on the consumer's thread between two polls; the caller waits for it. */
  private <T> T onThread(Callable<T> body) throws Exception {
    CompletableFuture<T> future = new CompletableFuture<>();
    tasks.add(
        () -> {
          try {
            future.complete(body.call());
          } catch (Throwable exc) {
            future.completeExceptionally(exc);
          }
        });
    return future.get(120, TimeUnit.SECONDS);
  }

  Object call(String op, JsonNode cmd) throws Exception {
    switch (op) {
      case "consumer_records":
        return takeRecords(cmd.path("count").asInt(), cmd.path("timeout_ms").asLong(30000));
      case "consumer_state":
        return state();
      case "consumer_commit":
        return onThread(
            () -> {
              if (cmd.has("offsets")) {
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (JsonNode entry : cmd.get("offsets")) {
                  offsets.put(Json.tp(entry), new OffsetAndMetadata(entry.get(2).asLong()));
                }
                consumer.commitSync(offsets);
              } else {
                consumer.commitSync();
              }
              return null;
            });
      case "consumer_committed":
        return onThread(
            () -> {
              Map<String, Object> result = new TreeMap<>();
              Set<TopicPartition> tps = new java.util.HashSet<>(Json.tps(cmd.path("partitions")));
              for (Map.Entry<TopicPartition, OffsetAndMetadata> entry : consumer.committed(tps).entrySet()) {
                result.put(
                    Json.key(entry.getKey()), entry.getValue() == null ? null : entry.getValue().offset());
              }
              return result;
            });
      case "consumer_position":
        return onThread(
            () -> {
              Map<String, Object> result = new TreeMap<>();
              for (TopicPartition tp : Json.tps(cmd.path("partitions"))) {
                result.put(Json.key(tp), consumer.position(tp));
              }
              return result;
            });
      case "consumer_seek":
        return onThread(
            () -> {
              TopicPartition tp = Json.tp(cmd.path("partition"));
              consumer.seek(tp, cmd.path("offset").asLong());
              dropBuffered(tp);
              return null;
            });
      case "consumer_offsets_for_times":
        return onThread(() -> offsetsForTimes(cmd));
      case "consumer_close":
        return onThread(
            () -> {
              running = false;
              consumer.close(Duration.ofSeconds(30));
              return null;
            });
      default:
        throw new IllegalArgumentException("unknown op " + op);
    }
  }

  /** {"times": [[topic, partition, timestamp]], "seek": true}: offsetsForTimes, and seek to what it found. */
  private Object offsetsForTimes(JsonNode cmd) {
    Map<TopicPartition, Long> query = new HashMap<>();
    for (JsonNode entry : cmd.path("times")) {
      query.put(Json.tp(entry), entry.get(2).asLong());
    }
    Map<String, Object> result = new TreeMap<>();
    for (Map.Entry<TopicPartition, OffsetAndTimestamp> entry :
        consumer.offsetsForTimes(query, Duration.ofSeconds(30)).entrySet()) {
      OffsetAndTimestamp found = entry.getValue();
      if (found == null) {
        result.put(Json.key(entry.getKey()), null);
        continue;
      }
      Map<String, Object> value = new LinkedHashMap<>();
      value.put("offset", found.offset());
      value.put("timestamp", found.timestamp());
      value.put("leader_epoch", found.leaderEpoch().orElse(-1));
      result.put(Json.key(entry.getKey()), value);
      if (cmd.path("seek").asBoolean()) {
        consumer.seek(entry.getKey(), found.offset());
        dropBuffered(entry.getKey());
      }
    }
    return result;
  }

  private void dropBuffered(TopicPartition tp) {
    synchronized (records) {
      records.removeIf(r -> r.get("topic").equals(tp.topic()) && (int) r.get("partition") == tp.partition());
    }
  }

  private List<Map<String, Object>> takeRecords(int count, long timeoutMs) throws InterruptedException {
    long deadline = System.currentTimeMillis() + timeoutMs;
    synchronized (records) {
      while (records.size() < count) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          break;
        }
        records.wait(left);
      }
      int n = Math.min(count, records.size());
      List<Map<String, Object>> taken = new ArrayList<>(records.subList(0, n));
      records.subList(0, n).clear();
      return taken;
    }
  }

  private Map<String, Object> state() {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("assignment", assignment);
    result.put("member_id", memberId);
    result.put("generation", generation);
    synchronized (events) {
      result.put("events", new ArrayList<>(events));
    }
    synchronized (pollErrors) {
      result.put("errors", new ArrayList<>(pollErrors));
    }
    synchronized (records) {
      result.put("buffered", records.size());
    }
    return result;
  }
}
