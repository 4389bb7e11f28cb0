# run.cmake - `sluice run` (run.sh): broker, registry and worker in one
# process, the avro converter end to end, decoded by Confluent's Node client.
add_test(NAME integration.run COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/run.sh)
set_tests_properties(integration.run PROPERTIES
  LABELS integration
  TIMEOUT 240
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
