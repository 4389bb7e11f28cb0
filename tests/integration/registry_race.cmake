# registry_race.cmake - two registries writing to one _schemas at once
# (registry_race.sh): ids and versions agree, also after compaction.
add_test(NAME integration.registry_race COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/registry_race.sh)
set_tests_properties(integration.registry_race PROPERTIES
  LABELS integration
  TIMEOUT 300
  ENVIRONMENT "${SLUICE_IT_ENV}")
