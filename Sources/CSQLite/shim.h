// The distribution's libsqlite3, plus the few C calls Swift cannot make directly.
#ifndef JOBQ_CSQLITE_SHIM_H
#define JOBQ_CSQLITE_SHIM_H

#include <sqlite3.h>
#include <malloc.h>

/// Extended result codes are macros built with `|` and `<<`, which Swift does not import.
enum {
    CSQLITE_CONSTRAINT_UNIQUE = SQLITE_CONSTRAINT_UNIQUE,
    CSQLITE_CONSTRAINT_PRIMARYKEY = SQLITE_CONSTRAINT_PRIMARYKEY,
};

/// `SQLITE_TRANSIENT` is a function-pointer cast Swift cannot import: SQLite copies the bytes
/// before the bind call returns.
static inline sqlite3_destructor_type csqlite_transient(void) {
    return SQLITE_TRANSIENT;
}

/// Turns off double-quoted string literals for this connection (`"name"` is an identifier,
/// never a string), so a typo in SQL is an error instead of a silently wrong query.
/// `sqlite3_db_config` is variadic, which Swift cannot call.
static inline int csqlite_disable_double_quoted_strings(sqlite3 *db) {
#if SQLITE_VERSION_NUMBER >= 3029000
    int rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)0);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)0);
#else
    return SQLITE_OK;
#endif
}

/// Process-wide settings, before the first connection opens: no memory statistics (with
/// them, every SQLite allocation takes a global mutex). Returns SQLITE_MISUSE when SQLite is
/// already initialised, which leaves things as they were.
static inline int csqlite_configure_process(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/// Keeps glibc from trimming and regrowing the heap top around every statement: with the
/// default thresholds a lean process hands memory back to the kernel after each claim and
/// page-faults it in again on the next one (measured here: half the claim rate). Raising the
/// trim threshold and the top pad to a few MiB costs at most that much resident memory.
/// Returns 1 when both settings were accepted.
static inline int csqlite_keep_heap_top(int trim_threshold, int top_pad) {
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 && mallopt(M_TOP_PAD, top_pad) == 1;
}

#endif
