-- pg_schema.sql - the database the postgres source's integration test
-- captures (postgres.sh): one table holding every supported type, tables
-- for REPLICA IDENTITY FULL vs DEFAULT, TOAST, no primary key, a large
-- streamed transaction, incremental snapshots and a write load. Run as the superuser in `shop`.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);

CREATE TABLE alltypes (
    id int PRIMARY KEY,
    b bool, i2 int2, i8 int8, f4 float4, f8 float8,
    n numeric(10, 3), nv numeric, m money,
    t text, vc varchar(20), c char(3), by bytea, u uuid,
    j json, jb jsonb, x xml,
    d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
    ip inet, net cidr, mac macaddr, bt bit(4), vb varbit(8),
    e mood, ai int[], at text[], dm posint,
    secret text
);

-- row 1: every column set; row 2: every column NULL (snapshot rows)
INSERT INTO alltypes VALUES
 (1, true, -32768, 9223372036854775807, 1.5, -2.25,
  12345.678, 3.14159265358979, 1234.56,
  'héllo', 'varchar', 'ab', '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"a": 1}', '{"b": [1, 2]}', '<x>1</x>',
  '2024-02-29', '13:14:15.123456', '10:00:00.5+02', '2024-02-29 13:14:15.123456',
  '2024-02-29 13:14:15.5+02', '1 year 2 mons 3 days 04:05:06.5',
  '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', B'110',
  'happy', '{1,2,NULL}', '{"a b","c\"d",NULL}', 7, 'hidden'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL);

CREATE TABLE ri_full (id int PRIMARY KEY, name text, qty int);
ALTER TABLE ri_full REPLICA IDENTITY FULL;
-- NOT NULL columns are required fields; a delete under DEFAULT sends only the key,
-- so name gets its fallback ("") in the before image
CREATE TABLE ri_default (id int PRIMARY KEY, name text NOT NULL, note text);
CREATE TABLE toasty (id int PRIMARY KEY, big text NOT NULL, small int, tags text[] NOT NULL, nums int[]);
CREATE TABLE nopk (a int, b text);
ALTER TABLE nopk REPLICA IDENTITY FULL;
CREATE TABLE big (id int PRIMARY KEY, pad text);
CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL);
CREATE TABLE ignored (id int PRIMARY KEY);
CREATE TABLE inc (id int PRIMARY KEY, v int NOT NULL);
-- an incremental snapshot interrupted by kill -9 and resumed (postgres.sh 6b)
CREATE TABLE resume (id int PRIMARY KEY, v int NOT NULL);
-- the signal table of incremental snapshots (signal.data.collection)
CREATE TABLE debezium_signal (id text PRIMARY KEY, type text NOT NULL, data text);

INSERT INTO ri_full VALUES (1, 'one', 10), (2, 'two', 20);
INSERT INTO ri_default VALUES (1, 'one', 'n1'), (2, 'two', 'n2');

CREATE PUBLICATION dbz_publication FOR ALL TABLES;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sluice;
GRANT INSERT ON debezium_signal TO sluice;
