// partition_of.js N - reads "partition<TAB>key" lines (kcat -f '%p\t%k\n';
// keys of text without a newline, as the json converter writes them) and
// checks each record's partition against the one kafkajs's default partitioner picks
// for its key among N partitions: murmur2 of the key bytes, as the Java
// producer (and so Kafka Connect, Debezium and Kafka Streams) picks it.
// Prints "<records> <mismatches>" and the first mismatches; exit 1 on any.
const { Partitioners } = require('kafkajs')
const n = parseInt(process.argv[2], 10)
const pick = Partitioners.DefaultPartitioner()
const partitionMetadata = [...Array(n).keys()].map(i => ({ partitionId: i, leader: 1 }))
let records = 0
const bad = []
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l)
for (const line of lines) {
  const tab = line.indexOf('\t')
  const p = line.slice(0, tab), k = line.slice(tab + 1)
  const key = Buffer.from(k, 'utf8')
  const want = pick({ topic: 't', partitionMetadata, message: { key } })
  records++
  if (want !== parseInt(p, 10)) bad.push(`key ${JSON.stringify(key.toString('latin1'))}: partition ${p}, Java's ${want}`)
}
console.log(`${records} ${bad.length}`)
bad.slice(0, 5).forEach(b => console.log(b))
process.exit(records > 0 && bad.length === 0 ? 0 : 1)
