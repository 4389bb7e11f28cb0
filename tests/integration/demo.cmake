# demo.cmake - `make run`'s demo end to end (demo.sh): PostgreSQL -> sluice
# run -> file:// lake, and a clean Ctrl-C.
add_test(NAME integration.demo COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/demo.sh)
set_tests_properties(integration.demo PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
