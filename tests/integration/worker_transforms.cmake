# worker_transforms.cmake - transforms named in pipeline files and connector
# configs, on records through the broker (worker_transforms.sh).
add_test(NAME integration.worker_transforms COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/worker_transforms.sh)
set_tests_properties(integration.worker_transforms PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
