/*
 * badabi.c - a plugin built for an ABI version this sluice does not speak.
 * test_plugin_host checks that the host refuses it with a message naming
 * the file and both versions, without calling any of its callbacks (which
 * would abort the test if it did).
 */
#include <stdlib.h>

#include <sluice/plugin.h>

static int bad_open(sluice_ctx *ctx, void **task)
{
    abort();
}
static int bad_poll(void *task, sluice_ctx *ctx, sluice_batch *batch)
{
    abort();
}
static void bad_close(void *task, sluice_ctx *ctx)
{
    abort();
}

SLUICE_PLUGIN_EXPORT const sluice_plugin_def sluice_plugin = {
    .magic = SLUICE_PLUGIN_MAGIC,
    .abi_version = 99, /* a version this sluice never spoke */
    .struct_size = sizeof(sluice_plugin_def),
    .signature = SLUICE_PLUGIN_SIGNATURE,
    .name = "badabi",
    .kind = SLUICE_SOURCE,
    .source = {.open = bad_open, .poll = bad_poll, .close = bad_close},
};
