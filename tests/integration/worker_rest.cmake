# worker_rest.cmake - the worker's Kafka Connect REST API suite
# (worker_rest.sh): every endpoint and error with curl, pause/resume/stop,
# offsets, a failing sink beside running ones, kill -9 with target states
# kept, and `sluice connectors`. Needs the plugins (build/plugins/*.so),
# curl, kcat and python3.
add_test(NAME integration.worker_rest COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/worker_rest.sh)
set_tests_properties(integration.worker_rest PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
