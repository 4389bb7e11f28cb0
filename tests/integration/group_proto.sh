#!/usr/bin/env bash
# group_proto: the consumer group state machine at the wire (group_proto.c),
# then a broker restart: committed offsets and generations come back.
. "$(dirname "$0")/lib.sh"
test_init group_proto
start_broker "$T/b" --set group.initial.rebalance.delay.ms=0
check "group state machine" "$GROUP_PROTO_TOOL" 127.0.0.1 "$BROKER_PORT"
stop_broker
restart_broker
got="$("$GROUP_PROTO_TOOL" 127.0.0.1 "$BROKER_PORT" offset)"
check "offset 42 committed before the restart is found after it (got $got)" test "$got" = 42
finish
