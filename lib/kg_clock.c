#include "kg_clock.h"

#include <time.h>

int64_t
kg_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
kg_clock_ms(void)
{
	return kg_clock_us() / 1000;
}

double
kg_clock_ms_since(int64_t t0_us)
{
	return (double)(kg_clock_us() - t0_us) / 1e3;
}
