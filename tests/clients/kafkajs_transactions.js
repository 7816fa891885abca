// kafkajs transactions against brook: a committed and an aborted transaction, then a consume-transform-produce
// step with sendOffsets. Prints one JSON line; tests/integration/test_transactions_clients.py checks it.
const { Kafka, logLevel } = require('kafkajs');

async function readAll(kafka, topic, groupId, readUncommitted, expected) {
  const consumer = kafka.consumer({ groupId, readUncommitted });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values = [];
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 20000);
    consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        values.push(message.value.toString());
        if (values.length >= expected) { clearTimeout(timer); setTimeout(resolve, 1000); }
      },
    });
  });
  await consumer.disconnect();
  return values;
}

async function main(broker, topic) {
  const kafka = new Kafka({ clientId: 'kjs-txn', brokers: [broker], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: `${topic}-in` }] });
  const producer = kafka.producer({ transactionalId: `${topic}-tx`, maxInFlightRequests: 1, idempotent: true });
  await producer.connect();

  let txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ value: `committed-${i}` })) });
  await txn.commit();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [0, 1, 2, 3].map((i) => ({ value: `aborted-${i}` })) });
  await txn.abort();

  // consume-transform-produce: the input offset is committed with the transaction
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: `${topic}-in`, messages: [{ value: 'a' }, { value: 'b' }] });
  await plain.disconnect();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [{ value: 'A' }, { value: 'B' }] });
  await txn.sendOffsets({ consumerGroupId: `${topic}-ctp`, topics: [{ topic: `${topic}-in`, partitions: [{ partition: 0, offset: '2' }] }] });
  await txn.commit();
  await producer.disconnect();

  const committedValues = await readAll(kafka, topic, `${topic}-rc`, false, 6);
  const allValues = await readAll(kafka, topic, `${topic}-ru`, true, 10);
  const offsets = await admin.fetchOffsets({ groupId: `${topic}-ctp`, topics: [`${topic}-in`] });
  await admin.disconnect();
  console.log(JSON.stringify({ committedValues, allValues, offsets }));
}

main(process.argv[2], process.argv[3]).catch((err) => { console.error(err); process.exit(1); });
