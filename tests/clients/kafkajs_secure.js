// kafkajs over SSL / SASL (PLAIN, SCRAM) against brook: produce 10 records, consume them in a group, commit.
// argv: broker topic '{"ca": path|null, "sasl": {"mechanism", "username", "password"}|null}'
// Prints one JSON line; tests/integration/test_security_clients.py checks it.
const fs = require('fs');
const { Kafka, logLevel, Partitioners } = require('kafkajs');

async function main(broker, topic, options) {
  const ssl = options.ca ? { ca: [fs.readFileSync(options.ca, 'utf-8')], rejectUnauthorized: true } : false;
  const kafka = new Kafka({ clientId: 'kjs-sec', brokers: [broker], ssl, sasl: options.sasl || undefined,
    logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const messages = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
  await producer.send({ topic, acks: -1, messages });
  const consumer = kafka.consumer({ groupId: `${topic}-g` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = [];
  await new Promise((resolve) => {
    consumer.run({ eachMessage: async ({ message }) => {
      received.push(message.value.toString());
      if (received.length === messages.length) resolve();
    } });
  });
  await consumer.disconnect();
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  const committed = await admin.fetchOffsets({ groupId: `${topic}-g`, topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({ received, committed: committed[0].partitions }));
}

main(process.argv[2], process.argv[3], JSON.parse(process.argv[4])).catch((err) => {
  console.error(err);
  process.exit(1);
});
