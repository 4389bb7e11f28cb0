# registry.cmake - the schema registry suite (registry.sh): a sluice broker,
# `sluice registry` instances, curl and @kafkajs/confluent-schema-registry
# (node_modules at the repository root, from package.json).
add_test(NAME integration.registry COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/registry.sh)
set_tests_properties(integration.registry PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "${SLUICE_IT_ENV}")
