// s3_decode.js - prints the records of lake objects as JSON lines, for the
// S3 sink tests (tests/integration/s3.sh, s3_postgres.sh): one line per
// record, in file order; Avro object container files are decoded with avsc
// (codecs null and deflate), JSON-lines files are passed through.
//
//   node s3_decode.js FILE...            records as JSON, one per line
//   node s3_decode.js --meta FILE...     per file: "<file> <codec> <records> <schema name> <row fields>"
//                                        (row fields: of the envelope's `after` record, comma-separated)
//   node s3_decode.js --tag FILE...      records as "<file>\t<record as JSON>", one per line
//
// Exits 1 naming the file when one is not a valid object.
'use strict';
const fs = require('fs');
const path = require('path');
const avro = require(path.join(__dirname, '../../node_modules/avsc'));

process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1)); // | head
const args = process.argv.slice(2);
const meta = args[0] === '--meta';
const tag = args[0] === '--tag';
const files = meta || tag ? args.slice(1) : args;
const show = (file, line) => console.log(tag ? `${file}\t${line}` : line);

// The field names of a Debezium envelope's `after` row ("-" otherwise).
function rowFields(type) {
    const after = type.getFields && type.getFields().find((f) => f.getName() === 'after');
    if (!after) return '-';
    const t = after.getType();
    const rec = (t.getTypes ? t.getTypes() : [t]).find((b) => b.getFields);
    return rec ? rec.getFields().map((f) => f.getName()).join(',') : '-';
}

function decodeAvro(file) {
    return new Promise((resolve, reject) => {
        const out = [];
        let header = null;
        avro.createFileDecoder(file)
            .on('metadata', (type, codec) => { header = { type, codec }; })
            .on('data', (rec) => out.push(rec))
            .on('error', (e) => reject(new Error(`${file}: ${e.message}`)))
            .on('end', () => resolve({ header, records: out }));
    });
}

(async () => {
    for (const file of files) {
        if (file.endsWith('.json')) {
            const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length);
            lines.forEach((l) => JSON.parse(l));
            if (meta) console.log(`${file} json ${lines.length} -`);
            else lines.forEach((l) => show(file, l));
            continue;
        }
        const { header, records } = await decodeAvro(file);
        if (meta) {
            console.log(`${file} ${header.codec} ${records.length} ${header.type.name || header.type.typeName} ${rowFields(header.type)}`);
        } else {
            for (const r of records)
                show(file, JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));
        }
    }
})().catch((e) => { console.error(e.message); process.exit(1); });
