# worker.cmake - the connector worker suite (worker.sh): datagen -> broker ->
# file sink pipelines, exactly-once arrival without failures, kill -9 under
# load with bounded duplicates, a bad pipeline beside a good one. Included
# by CMakeLists.txt here. Needs the plugins (build/plugins/*.so).
add_test(NAME integration.worker COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/worker.sh)
set_tests_properties(integration.worker PROPERTIES
  LABELS integration
  TIMEOUT 240
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
