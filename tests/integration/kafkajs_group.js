// kafkajs_group.js - kafkajs (the pure-JavaScript Kafka client, a second
// implementation of the protocol next to librdkafka) as a producer and as a
// consumer group member, for kafkajs.sh.
//
//   node kafkajs_group.js produce --brokers B --topic T --count N [--from I]
//       N keyed messages, key "js-<i % 7>", value "js-<i>" (FIRST <= i < FIRST+N),
//       acks=-1 (all), in batches of 100; prints "produced N".
//   node kafkajs_group.js consume --brokers B --topic T --group G --count N --out FILE
//                                 [--linger MS] [--timeout MS]
//       joins group G (subscribe, fromBeginning: true for a group with no
//       commits), reads until N messages arrived, then lingers MS more to
//       catch any extra one, and disconnects (LeaveGroup). Offsets are
//       committed by kafkajs's autoCommit, after every batch eachMessage
//       finished. Writes "partition offset value" lines to
//       FILE; prints "consumed N". Exits 1 if N did not arrive within
//       --timeout (default 60 s).
//
// Errors carry kafkajs's own messages (e.g. "The version of the API is not
// supported") so a broker gap shows up as which request failed.
'use strict';

const fs = require('fs');
const { Kafka, Partitioners, logLevel } = require('kafkajs');

function parseArgs(argv) {
    const a = { mode: argv[0], from: 0, linger: 0, timeout: 60000 };
    for (let i = 1; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, '');
        const v = argv[i + 1];
        if (v === undefined) throw new Error(`option --${k} needs a value`);
        a[k] = ['count', 'from', 'linger', 'timeout'].includes(k) ? Number(v) : v;
    }
    for (const k of ['brokers', 'topic', 'count'])
        if (a[k] === undefined) throw new Error(`--${k} is required`);
    return a;
}

function client(a, id) {
    return new Kafka({
        clientId: id,
        brokers: a.brokers.split(','),
        logLevel: logLevel.WARN,
        retry: { retries: 8, initialRetryTime: 200 },
    });
}

async function produce(a) {
    const producer = client(a, 'kafkajs-producer').producer({
        createPartitioner: Partitioners.DefaultPartitioner, // (and no v2 migration warning)
    });
    await producer.connect();
    for (let i = 0; i < a.count; i += 100) {
        const messages = [];
        for (let j = i; j < Math.min(i + 100, a.count); j++) {
            const n = a.from + j;
            messages.push({ key: `js-${n % 7}`, value: `js-${n}` });
        }
        await producer.send({ topic: a.topic, acks: -1, messages });
    }
    await producer.disconnect();
    console.log(`produced ${a.count}`);
}

async function consume(a) {
    if (!a.group || !a.out) throw new Error('consume needs --group and --out');
    const consumer = client(a, 'kafkajs-consumer').consumer({
        groupId: a.group,
        sessionTimeout: 6000,
        heartbeatInterval: 500,
        rebalanceTimeout: 10000,
    });
    const lines = [];
    let reached;
    const done = new Promise((resolve) => (reached = resolve));
    await consumer.connect();
    await consumer.subscribe({ topic: a.topic, fromBeginning: true });
    await consumer.run({
        eachMessage: async ({ partition, message }) => {
            lines.push(`${partition} ${message.offset} ${message.value.toString()}`);
            if (lines.length === a.count) reached();
        },
    });
    const timer = new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${lines.length} of ${a.count} messages after ` +
                                          `${a.timeout} ms`)), a.timeout));
    try {
        await Promise.race([done, timer]);
        if (a.linger) await new Promise((r) => setTimeout(r, a.linger));
    } finally {
        fs.writeFileSync(a.out, lines.join('\n') + (lines.length ? '\n' : ''));
        await consumer.disconnect();
    }
    console.log(`consumed ${lines.length}`);
}

(async () => {
    const a = parseArgs(process.argv.slice(2));
    if (a.mode === 'produce') await produce(a);
    else if (a.mode === 'consume') await consume(a);
    else throw new Error(`unknown mode ${a.mode}`);
    process.exit(0);
})().catch((e) => {
    console.error(`kafkajs_group: ${e.name || 'Error'}: ${e.message}` +
                  (e.type ? ` (${e.type})` : ''));
    process.exit(1);
});
