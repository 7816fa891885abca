import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The benchmark's Java send loop (bench/java_perf.py txn_loop): COUNT records of SIZE bytes to partition 0 of
 * TOPIC, in transactions of PER_TXN records (begin, PER_TXN sends, commitTransaction, which flushes), or with
 * PER_TXN 0 plainly (sends, one flush at the end). So a transactional produce and its non-transactional
 * baseline come from the same loop of the same client, differing only in the transactions.
 *
 * <p>Usage: java -cp KAFKA_JARS TxnProducer.java BOOTSTRAP TOPIC COUNT SIZE PER_TXN [key=value ...] (producer
 * settings; the client's defaults otherwise). The first quarter of the records (whole transactions) warms the
 * JVM up, untimed; the rest is timed from an empty pipeline to the last acknowledgement. Prints one line:
 * "records=N seconds=S failed=F transactions=T" for the timed part; exits 1 if any send failed.
 */
public final class TxnProducer {
  private TxnProducer() {}

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int count = Integer.parseInt(args[2]);
    int size = Integer.parseInt(args[3]);
    int perTxn = Integer.parseInt(args[4]);
    Properties config = new Properties();
    config.put("bootstrap.servers", bootstrap);
    for (int i = 5; i < args.length; i++) {
      String[] kv = args[i].split("=", 2);
      config.put(kv[0], kv[1]);
    }
    if (perTxn > 0) {
      config.put("transactional.id", "bench-java-" + topic);
    }
    AtomicLong failed = new AtomicLong();
    AtomicReference<Exception> firstFailure = new AtomicReference<>();
    Callback onAck =
        (metadata, exception) -> {
          if (exception != null) {
            failed.incrementAndGet();
            firstFailure.compareAndSet(null, exception);
          }
        };
    byte[] payload = new byte[size];
    Arrays.fill(payload, (byte) 'x');
    int chunk = perTxn > 0 ? perTxn : Math.max(1, count / 4);
    int warmup = (count / 4 / chunk) * chunk;
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer())) {
      if (perTxn > 0) {
        producer.initTransactions();
      }
      long started = 0;
      int transactions = 0;
      for (int start = 0; start < count; start += chunk) {
        if (start == warmup) {
          producer.flush(); // the timed part starts from an empty pipeline
          started = System.nanoTime();
          transactions = 0;
        }
        if (perTxn > 0) {
          producer.beginTransaction();
        }
        int end = Math.min(count, start + chunk);
        for (int i = start; i < end; i++) {
          producer.send(new ProducerRecord<>(topic, 0, null, payload), onAck);
        }
        if (perTxn > 0) {
          producer.commitTransaction();
          transactions++;
        }
      }
      producer.flush();
      double seconds = (System.nanoTime() - started) / 1e9;
      System.out.printf(
          "records=%d seconds=%.6f failed=%d transactions=%d%n",
          count - warmup, seconds, failed.get(), transactions);
      if (failed.get() > 0) {
        System.err.println("first failure: " + firstFailure.get());
        System.exit(1);
      }
    }
  }
}
