# postgres_avro.cmake - schema changes of a PostgreSQL table through the
# avro converter and the schema registry (postgres_avro.sh): a compatible
# ADD COLUMN becomes version 2; an incompatible type change fails the task
# with directions, which, followed, let the row through.
add_test(NAME integration.postgres_avro COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/postgres_avro.sh)
set_tests_properties(integration.postgres_avro PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
