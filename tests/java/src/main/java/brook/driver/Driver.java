package brook.driver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

/**
 * A test driver for the Java Kafka client, driven by pytest (tests/integration/java/).
 *
 * <p>Reads one JSON command per line on stdin: {"id": n, "op": "...", ...}; writes one JSON answer per line on
 * stdout: {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": {"type": "TopicExistsException",
 * "message": "..."}}. The error type is the simple class name of the Kafka exception (the cause of an
 * ExecutionException), so tests assert Kafka's own exception types. Logs go to stderr.
 */
public final class Driver {
  static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, ConsumerWorker> consumers = new HashMap<>();
  private final Map<String, ProducerOps> producers = new HashMap<>();
  private AdminOps admin;

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    Driver driver = new Driver();
    out.println(JSON.writeValueAsString(Map.of("ready", true, "version", clientVersion())));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      JsonNode cmd = JSON.readTree(line);
      ObjectNode answer = JSON.createObjectNode();
      answer.set("id", cmd.get("id"));
      try {
        answer.set("result", JSON.valueToTree(driver.dispatch(cmd)));
        answer.put("ok", true);
      } catch (Throwable exc) {
        answer.put("ok", false);
        answer.set("error", JSON.valueToTree(Json.error(exc)));
      }
      out.println(JSON.writeValueAsString(answer));
      if ("exit".equals(cmd.path("op").asText())) {
        break;
      }
    }
    driver.closeAll();
  }

  static String clientVersion() throws Exception {
    Properties props = new Properties();
    try (InputStream stream = Driver.class.getResourceAsStream("/kafka/kafka-version.properties")) {
      props.load(stream);
    }
    return props.getProperty("version");
  }

  private Object dispatch(JsonNode cmd) throws Exception {
    String op = cmd.path("op").asText();
    switch (op) {
      case "version":
        return clientVersion();
      case "exit":
        return null;
      case "produce":
        return produce(cmd);
      case "producer_close":
        ProducerOps producer = producers.remove(cmd.path("name").asText());
        if (producer != null) {
          producer.close();
        }
        return null;
      case "admin_open":
        if (admin != null) {
          admin.close();
        }
        admin = new AdminOps(Json.props(cmd.path("config")));
        return null;
      case "admin":
        if (admin == null) {
          throw new IllegalStateException("admin_open first");
        }
        return admin.call(cmd);
      case "consumer_open":
        {
          String name = cmd.path("name").asText();
          if (consumers.containsKey(name)) {
            throw new IllegalStateException("consumer " + name + " is already open");
          }
          ConsumerWorker worker = new ConsumerWorker(name, cmd);
          consumers.put(name, worker);
          return null;
        }
      default:
        if (op.startsWith("consumer_")) {
          ConsumerWorker worker = consumers.get(cmd.path("name").asText());
          if (worker == null) {
            throw new IllegalStateException("no consumer named " + cmd.path("name").asText());
          }
          if (op.equals("consumer_close")) {
            consumers.remove(worker.name);
          }
          return worker.call(op, cmd);
        }
        throw new IllegalArgumentException("unknown op " + op);
    }
  }

  private Object produce(JsonNode cmd) throws Exception {
    String name = cmd.path("name").asText("");
    if (name.isEmpty()) {
      try (ProducerOps producer = new ProducerOps(Json.props(cmd.path("config")))) {
        return producer.send(cmd);
      }
    }
    ProducerOps producer = producers.get(name);
    if (producer == null) {
      producer = new ProducerOps(Json.props(cmd.path("config")));
      producers.put(name, producer);
    }
    return producer.send(cmd);
  }

  private void closeAll() {
    for (ConsumerWorker worker : consumers.values()) {
      try {
        worker.call("consumer_close", JSON.createObjectNode());
      } catch (Exception exc) {
        System.err.println("closing consumer " + worker.name + ": " + exc);
      }
    }
    for (ProducerOps producer : producers.values()) {
      producer.close();
    }
    if (admin != null) {
      admin.close();
    }
  }

  static Throwable unwrap(Throwable exc) {
    while (exc instanceof ExecutionException && exc.getCause() != null) {
      exc = exc.getCause();
    }
    return exc;
  }
}
