// registry_client.js - drive the sluice schema registry with Confluent's
// wire-format client for Node, @kafkajs/confluent-schema-registry, the way an
// application does: register a schema, encode and decode records in the
// Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro
// binary), evolve the schema compatibly, and see an incompatible change
// refused. Prints one "ok: ..." line per check; exits 1 on the first failure.
//
//   REGISTRY=http://127.0.0.1:8081 node tests/integration/registry_client.js
'use strict';

const path = require('path');
const { SchemaRegistry, SchemaType } = require(
    path.join(__dirname, '../../node_modules/@kafkajs/confluent-schema-registry'));

const host = process.env.REGISTRY;
const subject = process.env.SUBJECT || 'kjs-orders-value';
const registry = new SchemaRegistry({ host }, { retry: { retries: 0 } });

function check(cond, what) {
    if (!cond) {
        console.error(`FAIL: ${what}`);
        process.exit(1);
    }
    console.log(`ok: ${what}`);
}

const v1 = {
    type: 'record', name: 'Order', namespace: 'shop',
    fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }],
};
const v2 = {
    type: 'record', name: 'Order', namespace: 'shop',
    fields: [
        { name: 'id', type: 'long' }, { name: 'item', type: 'string' },
        { name: 'qty', type: 'int', default: 1 },
    ],
};
const bad = {
    type: 'record', name: 'Order', namespace: 'shop',
    fields: [
        { name: 'id', type: 'long' }, { name: 'item', type: 'string' },
        { name: 'qty', type: 'int', default: 1 }, { name: 'email', type: 'string' },
    ],
};

async function main() {
    const { id: id1 } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    check(id1 > 0, `registered v1 under ${subject} with id ${id1}`);

    const again = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    check(again.id === id1, 'registering v1 again returns the same id');

    const buf = await registry.encode(id1, { id: 42, item: 'tea' });
    check(buf[0] === 0 && buf.readInt32BE(1) === id1, 'wire format: magic 0 then the schema id');
    const fresh = new SchemaRegistry({ host }); // no cache: decode asks the registry
    const back = await fresh.decode(buf);
    check(back.id === 42 && back.item === 'tea', 'decode round trip through GET /schemas/ids');

    const { id: id2 } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });
    check(id2 > id1, `evolved to v2 (field with default) with id ${id2}`);
    const buf2 = await registry.encode(id2, { id: 7, item: 'milk', qty: 3 });
    const back2 = await fresh.decode(buf2);
    check(back2.qty === 3, 'v2 record decodes with its new field');

    check(await registry.getLatestSchemaId(subject) === id2, 'latest schema id is v2');
    check(await registry.getRegistryId(subject, 1) === id1, 'version 1 is id ' + id1);

    let refused = null;
    try {
        await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(bad) }, { subject });
    } catch (e) {
        refused = e;
    }
    check(refused !== null && /email/.test(String(refused.message)) &&
              /incompatible/.test(String(refused.message)),
          'incompatible v3 (new field without default) refused, naming the field: ' +
              (refused && refused.message));
    check(await registry.getLatestSchemaId(subject) === id2, 'latest is still v2 after refusal');
}

main().catch((e) => {
    console.error('FAIL: ' + (e && e.stack ? e.stack : e));
    process.exit(1);
});
