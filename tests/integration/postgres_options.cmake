# postgres_options.cmake - the Debezium options of the postgres source
# (postgres_options.sh): plugin.name, skipped.operations, slot.drop.on.stop,
# schema.include.list / schema.exclude.list, snapshot.isolation.mode and
# include.unknown.datatypes, against a real PostgreSQL over the REST API.
add_test(NAME integration.postgres_options COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/postgres_options.sh)
set_tests_properties(integration.postgres_options PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
