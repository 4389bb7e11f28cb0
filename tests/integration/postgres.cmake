# postgres.cmake - the postgres source suite (postgres.sh): a real
# PostgreSQL 15 (Debian's /usr/lib/postgresql/15, run as the postgres user),
# the sluice broker and `sluice worker` with postgres -> file pipelines:
# snapshot and streaming of every type, replica identity, TOAST, schema
# changes, streamed large transactions, heartbeats, bad input, kill -9.
# Included by CMakeLists.txt here. Needs the plugins (build/plugins/*.so).
add_test(NAME integration.postgres COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/postgres.sh)
set_tests_properties(integration.postgres PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")

# The postgres source's fuzz target (built in connectors/postgres/, where
# tests cannot be registered: that folder precedes enable_testing()).
add_test(NAME fuzz.fuzz_pgoutput COMMAND fuzz_pgoutput 200000)
set_tests_properties(fuzz.fuzz_pgoutput PROPERTIES TIMEOUT 300 LABELS fuzz)
