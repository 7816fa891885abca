package brook.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** Conversions between the JSON the tests send and Kafka's types. */
final class Json {
  private Json() {}

  static Properties props(JsonNode config) {
    Properties props = new Properties();
    Iterator<Map.Entry<String, JsonNode>> fields = config.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      props.put(field.getKey(), field.getValue().asText());
    }
    return props;
  }

  static Map<String, Object> error(Throwable exc) {
    Throwable cause = Driver.unwrap(exc);
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("type", cause.getClass().getSimpleName());
    error.put("message", String.valueOf(cause.getMessage()));
    if (cause.getCause() != null && cause.getCause() != cause) {
      error.put("cause", error(cause.getCause()));
    }
    return error;
  }

  /** {"error": null} or {"error": "TypeName", "message": "..."}: the outcome of one entity of an admin call. */
  static Map<String, Object> outcome(Throwable exc) {
    Map<String, Object> result = new LinkedHashMap<>();
    if (exc == null) {
      result.put("error", null);
    } else {
      Throwable cause = Driver.unwrap(exc);
      result.put("error", cause.getClass().getSimpleName());
      result.put("message", String.valueOf(cause.getMessage()));
    }
    return result;
  }

  static TopicPartition tp(JsonNode pair) {
    return new TopicPartition(pair.get(0).asText(), pair.get(1).asInt());
  }

  static List<TopicPartition> tps(JsonNode pairs) {
    List<TopicPartition> result = new ArrayList<>();
    for (JsonNode pair : pairs) {
      result.add(tp(pair));
    }
    return result;
  }

  static String key(TopicPartition tp) {
    return tp.topic() + "/" + tp.partition();
  }

  static List<List<String>> headers(Headers headers) {
    List<List<String>> result = new ArrayList<>();
    for (Header header : headers) {
      result.add(
          java.util.Arrays.asList(
              header.key(),
              header.value() == null
                  ? null
                  : new String(header.value(), java.nio.charset.StandardCharsets.UTF_8)));
    }
    return result;
  }
}
