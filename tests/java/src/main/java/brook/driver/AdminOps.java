package brook.driver;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.LogDirDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.ReplicaInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.quota.ClientQuotaFilterComponent;

/**
 * The AdminClient calls the tests make: {"op": "admin", "call": "create_topics", ...}. Calls on several entities
 * answer one outcome per entity ({"error": null | "TopicExistsException", ...}); a call on one thing throws.
 */
final class AdminOps implements AutoCloseable {
  private final Admin admin;

  AdminOps(Properties config) {
    admin = Admin.create(config);
  }

  @Override
  public void close() {
    admin.close();
  }

  Object call(JsonNode cmd) throws Exception {
    String call = cmd.path("call").asText();
    switch (call) {
      case "create_topics":
        return createTopics(cmd);
      case "delete_topics":
        return perEntity(admin.deleteTopics(strings(cmd.path("names"))).topicNameValues(), v -> null);
      case "list_topics":
        {
          org.apache.kafka.clients.admin.ListTopicsOptions options =
              new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(
                  cmd.path("internal").asBoolean());
          return new java.util.TreeSet<>(admin.listTopics(options).names().get());
        }
      case "create_partitions":
        {
          Map<String, NewPartitions> counts = new HashMap<>();
          cmd.path("counts").fields().forEachRemaining(e -> counts.put(e.getKey(), NewPartitions.increaseTo(e.getValue().asInt())));
          return perEntity(admin.createPartitions(counts).values(), v -> null);
        }
      case "describe_topics":
        return perEntity(
            admin.describeTopics(strings(cmd.path("names"))).topicNameValues(), AdminOps::topic);
      case "describe_topics_by_id":
        {
          List<Uuid> ids = new ArrayList<>();
          cmd.path("ids").forEach(id -> ids.add(Uuid.fromString(id.asText())));
          Map<String, Object> result = new TreeMap<>();
          for (Map.Entry<Uuid, KafkaFuture<TopicDescription>> entry :
              admin.describeTopics(TopicCollection.ofTopicIds(ids)).topicIdValues().entrySet()) {
            result.put(entry.getKey().toString(), outcome(entry.getValue(), AdminOps::topic));
          }
          return result;
        }
      case "describe_configs":
        {
          List<ConfigResource> resources = new ArrayList<>();
          for (JsonNode r : cmd.path("resources")) {
            resources.add(resource(r));
          }
          Map<String, Object> result = new TreeMap<>();
          for (Map.Entry<ConfigResource, KafkaFuture<Config>> entry :
              admin.describeConfigs(resources).values().entrySet()) {
            result.put(entry.getKey().name(), outcome(entry.getValue(), c -> Map.of("configs", configs(c))));
          }
          return result;
        }
      case "incremental_alter_configs":
        {
          Map<ConfigResource, Collection<AlterConfigOp>> alterations = new HashMap<>();
          for (JsonNode r : cmd.path("resources")) {
            List<AlterConfigOp> ops = new ArrayList<>();
            for (JsonNode op : r.path("ops")) {
              ops.add(
                  new AlterConfigOp(
                      new ConfigEntry(op.get(0).asText(), op.get(1).isNull() ? null : op.get(1).asText()),
                      AlterConfigOp.OpType.valueOf(op.get(2).asText())));
            }
            alterations.put(resource(r.path("resource")), ops);
          }
          Map<String, Object> result = new TreeMap<>();
          for (Map.Entry<ConfigResource, KafkaFuture<Void>> entry :
              admin.incrementalAlterConfigs(alterations).values().entrySet()) {
            result.put(entry.getKey().name(), outcome(entry.getValue(), v -> null));
          }
          return result;
        }
      case "list_consumer_groups":
        {
          Map<String, Object> result = new TreeMap<>();
          for (ConsumerGroupListing listing : admin.listConsumerGroups().all().get()) {
            result.put(listing.groupId(), listing.state().map(Object::toString).orElse(null));
          }
          return result;
        }
      case "describe_consumer_groups":
        return perEntity(
            admin.describeConsumerGroups(strings(cmd.path("ids"))).describedGroups(), AdminOps::group);
      case "delete_consumer_groups":
        return perEntity(admin.deleteConsumerGroups(strings(cmd.path("ids"))).deletedGroups(), v -> null);
      case "list_consumer_group_offsets":
        {
          Map<String, Object> result = new TreeMap<>();
          for (Map.Entry<TopicPartition, OffsetAndMetadata> entry :
              admin.listConsumerGroupOffsets(cmd.path("group").asText()).partitionsToOffsetAndMetadata().get().entrySet()) {
            result.put(Json.key(entry.getKey()), entry.getValue() == null ? null : entry.getValue().offset());
          }
          return result;
        }
      case "alter_consumer_group_offsets":
        {
          Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
          for (JsonNode entry : cmd.path("offsets")) {
            offsets.put(Json.tp(entry), new OffsetAndMetadata(entry.get(2).asLong()));
          }
          var result = admin.alterConsumerGroupOffsets(cmd.path("group").asText(), offsets);
          Map<String, Object> outcomes = new TreeMap<>();
          for (TopicPartition tp : offsets.keySet()) {
            outcomes.put(Json.key(tp), outcome(result.partitionResult(tp), v -> null));
          }
          return outcomes;
        }
      case "delete_consumer_group_offsets":
        {
          var partitions = new java.util.HashSet<>(Json.tps(cmd.path("partitions")));
          var result = admin.deleteConsumerGroupOffsets(cmd.path("group").asText(), partitions);
          Map<String, Object> outcomes = new TreeMap<>();
          for (TopicPartition tp : partitions) {
            outcomes.put(Json.key(tp), outcome(result.partitionResult(tp), v -> null));
          }
          outcomes.put("all", outcome(result.all(), v -> null));
          return outcomes;
        }
      case "describe_log_dirs":
        {
          List<Integer> brokers = new ArrayList<>();
          cmd.path("brokers").forEach(b -> brokers.add(b.asInt()));
          Map<String, Object> result = new TreeMap<>();
          for (Map.Entry<Integer, Map<String, LogDirDescription>> broker :
              admin.describeLogDirs(brokers).allDescriptions().get().entrySet()) {
            Map<String, Object> dirs = new TreeMap<>();
            for (Map.Entry<String, LogDirDescription> dir : broker.getValue().entrySet()) {
              Map<String, Object> replicas = new TreeMap<>();
              for (Map.Entry<TopicPartition, ReplicaInfo> replica : dir.getValue().replicaInfos().entrySet()) {
                replicas.put(
                    Json.key(replica.getKey()),
                    Map.of("size", replica.getValue().size(), "offset_lag", replica.getValue().offsetLag()));
              }
              Map<String, Object> entry = new LinkedHashMap<>();
              entry.put("error", dir.getValue().error() == null ? null : dir.getValue().error().getClass().getSimpleName());
              entry.put("replicas", replicas);
              dirs.put(dir.getKey(), entry);
            }
            result.put(String.valueOf(broker.getKey()), dirs);
          }
          return result;
        }
      case "delete_records":
        {
          Map<TopicPartition, RecordsToDelete> request = new HashMap<>();
          for (JsonNode entry : cmd.path("offsets")) {
            request.put(Json.tp(entry), RecordsToDelete.beforeOffset(entry.get(2).asLong()));
          }
          Map<String, Object> result = new TreeMap<>();
          var options = new org.apache.kafka.clients.admin.DeleteRecordsOptions();
          if (cmd.has("timeout_ms")) {
            options.timeoutMs(cmd.get("timeout_ms").asInt());
          }
          for (var entry : admin.deleteRecords(request, options).lowWatermarks().entrySet()) {
            result.put(Json.key(entry.getKey()), outcome(entry.getValue(), w -> Map.of("low_watermark", w.lowWatermark())));
          }
          return result;
        }
      case "list_offsets":
        {
          Map<TopicPartition, OffsetSpec> request = new HashMap<>();
          for (JsonNode entry : cmd.path("specs")) {
            request.put(Json.tp(entry), offsetSpec(entry.get(2)));
          }
          ListOffsetsResult listed = admin.listOffsets(request);
          Map<String, Object> result = new TreeMap<>();
          for (TopicPartition tp : request.keySet()) {
            result.put(
                Json.key(tp),
                outcome(
                    listed.partitionResult(tp),
                    info -> {
                      Map<String, Object> found = new LinkedHashMap<>();
                      found.put("offset", info.offset());
                      found.put("timestamp", info.timestamp());
                      found.put("leader_epoch", info.leaderEpoch().orElse(-1));
                      return found;
                    }));
          }
          return result;
        }
      case "describe_cluster":
        {
          DescribeClusterResult cluster = admin.describeCluster();
          Map<String, Object> result = new LinkedHashMap<>();
          result.put("cluster_id", cluster.clusterId().get());
          Node controller = cluster.controller().get();
          result.put("controller", controller == null ? null : controller.id());
          List<Object> nodes = new ArrayList<>();
          for (Node node : cluster.nodes().get()) {
            nodes.add(Map.of("id", node.id(), "host", node.host(), "port", node.port()));
          }
          result.put("nodes", nodes);
          return result;
        }
      case "describe_client_quotas":
        {
          List<ClientQuotaFilterComponent> components = new ArrayList<>();
          for (JsonNode c : cmd.path("components")) {
            components.add(
                c.get(1).isNull()
                    ? ClientQuotaFilterComponent.ofDefaultEntity(c.get(0).asText())
                    : ClientQuotaFilterComponent.ofEntity(c.get(0).asText(), c.get(1).asText()));
          }
          ClientQuotaFilter filter =
              cmd.path("strict").asBoolean() ? ClientQuotaFilter.containsOnly(components) : ClientQuotaFilter.contains(components);
          List<Object> result = new ArrayList<>();
          for (var entry : admin.describeClientQuotas(filter).entities().get().entrySet()) {
            result.add(Map.of("entity", entry.getKey().entries(), "quotas", new TreeMap<>(entry.getValue())));
          }
          return result;
        }
      case "alter_client_quotas":
        {
          List<ClientQuotaAlteration> alterations = new ArrayList<>();
          for (JsonNode a : cmd.path("alterations")) {
            Map<String, String> entity = new HashMap<>();
            a.path("entity").fields().forEachRemaining(e -> entity.put(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText()));
            List<ClientQuotaAlteration.Op> ops = new ArrayList<>();
            a.path("ops").fields().forEachRemaining(e -> ops.add(new ClientQuotaAlteration.Op(e.getKey(), e.getValue().isNull() ? null : e.getValue().asDouble())));
            alterations.add(new ClientQuotaAlteration(new ClientQuotaEntity(entity), ops));
          }
          admin.alterClientQuotas(alterations).all().get();
          return null;
        }
      default:
        throw new IllegalArgumentException("unknown admin call " + call);
    }
  }

  private Object createTopics(JsonNode cmd) throws Exception {
    List<NewTopic> topics = new ArrayList<>();
    for (JsonNode t : cmd.path("topics")) {
      NewTopic topic =
          new NewTopic(
              t.path("name").asText(),
              t.has("partitions") ? Optional.of(t.get("partitions").asInt()) : Optional.empty(),
              t.has("replication_factor") ? Optional.of((short) t.get("replication_factor").asInt()) : Optional.empty());
      if (t.has("configs")) {
        Map<String, String> configs = new HashMap<>();
        t.get("configs").fields().forEachRemaining(e -> configs.put(e.getKey(), e.getValue().asText()));
        topic.configs(configs);
      }
      topics.add(topic);
    }
    CreateTopicsResult created =
        admin.createTopics(topics, new CreateTopicsOptions().validateOnly(cmd.path("validate_only").asBoolean()));
    Map<String, Object> result = new TreeMap<>();
    for (Map.Entry<String, KafkaFuture<Void>> entry : created.values().entrySet()) {
      String name = entry.getKey();
      Map<String, Object> outcome = outcome(entry.getValue(), v -> null);
      if (outcome.get("error") == null) {
        outcome.put("num_partitions", created.numPartitions(name).get());
        outcome.put("replication_factor", created.replicationFactor(name).get());
        Uuid id = cmd.path("validate_only").asBoolean() ? null : created.topicId(name).get();
        outcome.put("topic_id", id == null ? null : id.toString());
        Map<String, Object> configs = new TreeMap<>();
        for (ConfigEntry config : created.config(name).get().entries()) {
          configs.put(config.name(), config.value());
        }
        outcome.put("configs", configs);
      }
      result.put(name, outcome);
    }
    return result;
  }

  private static OffsetSpec offsetSpec(JsonNode spec) {
    if (spec.isNumber()) {
      return OffsetSpec.forTimestamp(spec.asLong());
    }
    switch (spec.asText()) {
      case "earliest":
        return OffsetSpec.earliest();
      case "latest":
        return OffsetSpec.latest();
      case "max_timestamp":
        return OffsetSpec.maxTimestamp();
      default:
        throw new IllegalArgumentException("offset spec " + spec);
    }
  }

  private static ConfigResource resource(JsonNode pair) {
    return new ConfigResource(ConfigResource.Type.valueOf(pair.get(0).asText()), pair.get(1).asText());
  }

  private static Object topic(TopicDescription description) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("name", description.name());
    result.put("topic_id", description.topicId().toString());
    result.put("internal", description.isInternal());
    List<Object> partitions = new ArrayList<>();
    for (TopicPartitionInfo info : description.partitions()) {
      Map<String, Object> p = new LinkedHashMap<>();
      p.put("partition", info.partition());
      p.put("leader", info.leader() == null ? null : info.leader().id());
      p.put("replicas", info.replicas().stream().map(Node::id).toList());
      p.put("isr", info.isr().stream().map(Node::id).toList());
      partitions.add(p);
    }
    result.put("partitions", partitions);
    return result;
  }

  private static Object configs(Config config) {
    Map<String, Object> result = new TreeMap<>();
    for (ConfigEntry entry : config.entries()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("value", entry.value());
      e.put("source", entry.source().toString());
      e.put("read_only", entry.isReadOnly());
      e.put("sensitive", entry.isSensitive());
      e.put("default", entry.isDefault());
      result.put(entry.name(), e);
    }
    return result;
  }

  private static Object group(ConsumerGroupDescription group) {
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("group_id", group.groupId());
    result.put("state", group.state().toString());
    result.put("assignor", group.partitionAssignor());
    result.put("simple", group.isSimpleConsumerGroup());
    result.put("coordinator", group.coordinator() == null ? null : group.coordinator().id());
    List<Object> members = new ArrayList<>();
    for (MemberDescription member : group.members()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("member_id", member.consumerId());
      m.put("instance_id", member.groupInstanceId().orElse(null));
      m.put("client_id", member.clientId());
      m.put("host", member.host());
      List<List<Object>> assigned = new ArrayList<>();
      for (TopicPartition tp : member.assignment().topicPartitions()) {
        assigned.add(List.of(tp.topic(), tp.partition()));
      }
      assigned.sort((a, b) -> (a.get(0) + "/" + a.get(1)).compareTo(b.get(0) + "/" + b.get(1)));
      m.put("assignment", assigned);
      members.add(m);
    }
    members.sort((a, b) -> String.valueOf(((Map<?, ?>) a).get("client_id")).compareTo(String.valueOf(((Map<?, ?>) b).get("client_id"))));
    result.put("members", members);
    return result;
  }

  private static List<String> strings(JsonNode array) {
    List<String> result = new ArrayList<>();
    array.forEach(n -> result.add(n.asText()));
    return result;
  }

  interface Body<T> {
    Object apply(T value) throws Exception;
  }

  private static <T> Map<String, Object> outcome(KafkaFuture<T> future, Body<T> body) {
    try {
      T value = future.get();
      Map<String, Object> result = Json.outcome(null);
      Object extra = body.apply(value);
      if (extra instanceof Map<?, ?> map) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
          result.put(String.valueOf(e.getKey()), e.getValue());
        }
      }
      return result;
    } catch (Exception exc) {
      return Json.outcome(exc);
    }
  }

  private static <T> Map<String, Object> perEntity(Map<String, KafkaFuture<T>> futures, Body<T> body) {
    Map<String, Object> result = new TreeMap<>();
    Iterator<Map.Entry<String, KafkaFuture<T>>> it = futures.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<String, KafkaFuture<T>> entry = it.next();
      result.put(entry.getKey(), outcome(entry.getValue(), body));
    }
    return result;
  }
}
