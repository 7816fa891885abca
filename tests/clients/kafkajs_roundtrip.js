// kafkajs against brook: admin, idempotent producer with keys and headers, a consumer group, committed offsets.
// Prints one JSON line with what it observed; tests/integration/test_kafkajs.py checks it.
const { Kafka, logLevel, Partitioners } = require('kafkajs');

async function main(broker, topic) {
  const kafka = new Kafka({ clientId: 'kjs', brokers: [broker], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` } }));
  const sent = await producer.send({ topic, acks: -1, messages });
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = [];
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({ partition, offset: Number(message.offset), key: message.key.toString(),
          value: message.value.toString(), header: message.headers.h.toString() });
        if (received.length === messages.length) resolve();
      },
    });
  });
  await consumer.disconnect();
  await producer.disconnect();
  const committed = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({ sent, received, committed }));
}

main(process.argv[2], process.argv[3]).catch((err) => { console.error(err); process.exit(1); });
