/* fuzz_job.c: payload validation, the check every pulled job goes through
 * before it reaches a child. */
#include <stddef.h>
#include <stdint.h>

#include "dispatch/job.h"

#define MAX_JOB_BYTES (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fp_job_t job;
    fp_err_t err;
    if (fp_job_parse((const char *)data, size, MAX_JOB_BYTES, &job, &err) == 0)
        fp_job_clear(&job);
    return 0;
}
