/*
 * kg_clock - the one clock for durations and deadlines.
 *
 * CLOCK_MONOTONIC: it never jumps when the wall clock is set (NTP, an
 * operator), so a timeout or a measured latency cannot go negative or
 * skip ahead.  Wall-clock time (timestamps shown to people, JWT expiry,
 * SigV4) is time(2) / CLOCK_REALTIME where it is used, never this.
 */
#ifndef KG_CLOCK_H
#define KG_CLOCK_H

#include <stdint.h>

/* Microseconds since an arbitrary fixed point (boot). */
int64_t kg_clock_us(void);

/* Milliseconds, same clock. */
int64_t kg_clock_ms(void);

/* Milliseconds (with fraction) since `t0_us`, a kg_clock_us() value. */
double kg_clock_ms_since(int64_t t0_us);

#endif
