# postgres_types.cmake - every supported PostgreSQL type through the avro
# converter and the registry (postgres_types.sh): the registered schemas with
# Debezium's semantic names, and each value decoded back, field by field.
add_test(NAME integration.postgres_types COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/postgres_types.sh)
set_tests_properties(integration.postgres_types PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
