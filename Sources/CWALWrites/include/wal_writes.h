// A SQLite VFS that hands a transaction's WAL frames to the kernel in one write.
#ifndef JOBQ_WAL_WRITES_H
#define JOBQ_WAL_WRITES_H

/// The VFS's name, for sqlite3_open_v2.
#define JOBQ_WAL_WRITES_VFS "jobq-wal-writes"

/// Registers the VFS (not as the default) over the default VFS; once per process, later calls
/// return SQLITE_OK at once. Returns a SQLite result code.
int jobq_wal_writes_register(void);

typedef struct sqlite3 sqlite3;

/// The write calls this VFS has made on `db`'s WAL file since it was opened, or -1 when the
/// connection's WAL is not open through this VFS.
long long jobq_wal_writes_file_calls(sqlite3 *db);

#endif
