# postgres_session.cmake - the postgres source against a database set up
# otherwise than it parses (postgres_session.sh): bytea_output=escape and
# other session settings of the database and the role, numeric values at
# PostgreSQL's limits, and no slot left by snapshot.mode=initial_only.
add_test(NAME integration.postgres_session COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/postgres_session.sh)
set_tests_properties(integration.postgres_session PROPERTIES
  LABELS integration
  TIMEOUT 180
  ENVIRONMENT "SLUICE=$<TARGET_FILE:sluice>")
