// avro_decode.js - decode messages in the Confluent wire format with
// Confluent's Node client, @kafkajs/confluent-schema-registry, exactly as a
// consumer application would: the client reads the schema id from bytes 1-4,
// fetches the writer schema from the registry and decodes the Avro body.
//
//   REGISTRY=http://127.0.0.1:8081 node avro_decode.js FILE...
//
// Each FILE holds one raw message (key or value). Prints each decoded
// object as one JSON line; exits 1 on the first failure.
'use strict';

const fs = require('fs');
const path = require('path');
const { SchemaRegistry } = require(
    path.join(__dirname, '../../node_modules/@kafkajs/confluent-schema-registry'));

const registry = new SchemaRegistry({ host: process.env.REGISTRY }, { retry: { retries: 0 } });

(async () => {
    for (const f of process.argv.slice(2)) {
        const buf = fs.readFileSync(f);
        const obj = await registry.decode(buf);
        console.log(JSON.stringify(obj, (k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    }
})().catch((e) => {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
});
