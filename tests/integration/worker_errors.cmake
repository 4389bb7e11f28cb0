# worker_errors.cmake - errors.tolerance, error logs and the dead letter
# queue of sink connectors (worker_errors.sh).
add_test(NAME integration.worker_errors COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/worker_errors.sh)
set_tests_properties(integration.worker_errors PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
