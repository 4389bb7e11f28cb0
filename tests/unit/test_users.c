/*
 * test_users.c - core/users.c: credentials from a list and a file, checked
 * whole ("user:password" or user and password apart), bad entries refused
 * by key, file and line without showing them.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "users.h"

#define FILE_NAME "test_users.txt"

static int check(const sl_users *u, const char *user, const char *pw)
{
    return sl_users_check(u, user, strlen(user), pw, strlen(pw));
}

static void test_list_and_file(void)
{
    char err[512] = "";
    FILE *f = fopen(FILE_NAME, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("# operators\r\nalice:Al1ce\r\n\nbob:b0b:with:colons\n", f);
    fclose(f);
    sl_users *u = sl_users_create();
    CU_ASSERT_EQUAL(sl_users_add_list(u, "k", "carol:c4rol,dave:d", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_users_add_file(u, "k.file", FILE_NAME, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sl_users_count(u), 4);
    CU_ASSERT_TRUE(check(u, "alice", "Al1ce")); /* CRLF stripped */
    CU_ASSERT_TRUE(check(u, "bob", "b0b:with:colons"));
    CU_ASSERT_TRUE(check(u, "carol", "c4rol"));
    CU_ASSERT_TRUE(sl_users_check_pair(u, "dave:d", 6));
    CU_ASSERT_TRUE(sl_users_check_pair(u, "bob:b0b:with:colons", 19));
    CU_ASSERT_FALSE(check(u, "alice", "Al1c"));
    CU_ASSERT_FALSE(check(u, "alice", "Al1ce "));
    CU_ASSERT_FALSE(check(u, "alice", "c4rol"));         /* another user's password */
    CU_ASSERT_FALSE(check(u, "bob:b0b", "with:colons")); /* a user name never holds ':' */
    CU_ASSERT_FALSE(check(u, "", ""));
    CU_ASSERT_FALSE(sl_users_check_pair(u, "# operators", 11));
    sl_users_destroy(u);
    remove(FILE_NAME);
}

static void test_refused(void)
{
    char err[512] = "";
    sl_users *u = sl_users_create();
    CU_ASSERT_EQUAL(
        sl_users_add_list(u, "authentication.users", "a:1,s3cretnocolon", err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "authentication.users: entry 2 is not 'user:password'");
    FILE *f = fopen(FILE_NAME, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("a:1\n:nouser\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(sl_users_add_file(u, "users.file", FILE_NAME, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "users.file '" FILE_NAME "' line 2: expected user:password");
    remove(FILE_NAME);
    CU_ASSERT_EQUAL(sl_users_add_file(u, "users.file", FILE_NAME, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read: No such file"));
    sl_users_destroy(u);
    CU_ASSERT_FALSE(sl_users_check(NULL, "a", 1, "1", 1));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("users", NULL, NULL);
    CU_add_test(s, "list and file, checked whole or apart", test_list_and_file);
    CU_add_test(s, "bad entries refused and named", test_refused);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
