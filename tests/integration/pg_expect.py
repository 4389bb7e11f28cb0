"""pg_expect.py - what the postgres source's tests expect of row 1 of the
alltypes table (pg_schema.sql, with vc set to a tab, a newline and a
backslash), in the Debezium JSON form the file sink writes whether the
records came through the json or the avro converter: one table of values
for postgres.sh and postgres_types.sh (check_py imports it), and the
reading of a sink's output that a kill -9 may have torn."""

import json

ROW1 = {"id": 1, "b": True, "i2": -32768, "i8": 9223372036854775807, "f4": 1.5, "f8": -2.25,
        "n": "ALxhTg==", "nv": {"scale": 14, "value": "AR2552okgw=="}, "m": "AeJA",
        "t": "héllo", "vc": "var\tchar\n\\", "c": "ab ", "by": "AP8Q",
        "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": "{\"a\": 1}", "jb": "{\"b\": [1, 2]}",
        "x": "<x>1</x>", "d": 19782, "tm": 47655123456, "ttz": "08:00:00.5Z",
        "ts": 1709212455123456, "tstz": "2024-02-29T11:14:15.5Z",
        "iv": ((14 * 30.4375 + 3) * 86400 + 4 * 3600 + 5 * 60 + 6.5) * 1000000,
        "ip": "192.168.0.1/24", "net": "10.0.0.0/8", "mac": "08:00:2b:01:02:03",
        "bt": "Cg==", "vb": "Bg==", "e": "happy", "ai": [1, 2, None],
        "at": ["a b", "c\"d", None], "dm": 7}


def records(path):
    """The records of a file sink's JSON lines, as dicts. A line a kill -9
    tore (its start lost, the next record written after it) is read from its
    last record on; one that cannot be read at all is skipped."""
    for line in open(path):
        try:
            yield json.loads(line)
        except ValueError:
            try:
                yield json.loads(line[line.rindex('{"topic":'):])
            except ValueError:
                continue
