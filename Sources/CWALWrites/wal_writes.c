// jobq-wal-writes: a SQLite VFS over the default one that gathers the writes SQLite makes to a
// WAL file and hands them to the kernel as one write when the transaction's commit frame is
// complete.
//
// Why: SQLite writes each WAL frame as two pwrite calls (its 24-byte header, then the page),
// so a commit of one job (7 pages: the row, 4 indexes, the id sequence, the counts) made 14
// calls before its fdatasync. One call for the whole run of frames does the same work.
//
// What makes it safe: nothing that reads or syncs the WAL sees a difference.
// - Only writes that continue the gathered run are held back; any other write, and every read,
//   sync, truncate, size query, file control, lock change and close of the WAL first writes
//   out what is held (in order, as SQLite issued it).
// - The run is written out as soon as the page of a commit frame has been added (a frame
//   header's bytes 4-7 hold the database size for a commit frame, zero otherwise). SQLite
//   writes a commit frame before it publishes the new frames to other connections through the
//   wal-index, and before it syncs the WAL under synchronous=FULL; so readers and the disk see
//   exactly what they saw without this VFS, and a failed write still fails the commit that
//   made it (the error is returned from the write call SQLite is making).
// - Only files opened as WAL (SQLITE_OPEN_WAL) are touched; every other call goes straight to
//   the default VFS.
#include "wal_writes.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/// Hold at most this much before writing it out even without a commit frame.
#define HOLD_LIMIT (4 << 20)

typedef struct {
    sqlite3_file base;      // our methods
    sqlite3_file *real;     // the default VFS's file, in the same allocation after this struct
    int is_wal;
    unsigned char *held;    // the gathered run
    int held_length;
    int held_capacity;
    sqlite3_int64 held_offset;  // where the run starts in the file
    sqlite3_int64 commit_header_end;  // after a commit frame's header: where its page goes; else -1
    long long write_calls;      // writes made on the real file
} WALFile;

static sqlite3_vfs *root;
static sqlite3_vfs vfs;

/// The largest write handed to the default VFS at once: its unix xWrite writes at most
/// 0x1ffff bytes per pwrite call and fails a write whose remaining length is a multiple of
/// 128 KiB, since SQLite itself never writes more than a page (64 KiB).
#define WRITE_LIMIT (120 << 10)

static int write_out(WALFile *file) {
    int rc = SQLITE_OK;
    for (int done = 0; done < file->held_length && rc == SQLITE_OK;) {
        int amount = file->held_length - done < WRITE_LIMIT ? file->held_length - done : WRITE_LIMIT;
        file->write_calls += 1;
        rc = file->real->pMethods->xWrite(file->real, file->held + done, amount, file->held_offset + done);
        done += amount;
    }
    file->held_length = 0;
    return rc;
}

static int hold(WALFile *file, const void *data, int amount, sqlite3_int64 offset) {
    if (file->held_length + amount > file->held_capacity) {
        int capacity = file->held_capacity ? file->held_capacity : 64 << 10;
        while (capacity < file->held_length + amount) capacity *= 2;
        unsigned char *grown = realloc(file->held, (size_t)capacity);
        if (!grown) return SQLITE_NOMEM;
        file->held = grown;
        file->held_capacity = capacity;
    }
    if (file->held_length == 0) file->held_offset = offset;
    memcpy(file->held + file->held_length, data, (size_t)amount);
    file->held_length += amount;
    return SQLITE_OK;
}

// The methods. Each one on a WAL file writes out what is held first, except xWrite (which may
// add to it) and the calls that neither read nor change the file's bytes.

static int wal_close(sqlite3_file *f) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    int closed = file->real->pMethods->xClose(file->real);
    free(file->held);
    file->held = NULL;
    file->held_capacity = 0;
    return rc != SQLITE_OK ? rc : closed;
}

static int wal_read(sqlite3_file *f, void *data, int amount, sqlite3_int64 offset) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xRead(file->real, data, amount, offset);
}

static int wal_write(sqlite3_file *f, const void *data, int amount, sqlite3_int64 offset) {
    WALFile *file = (WALFile *)f;
    if (!file->is_wal) return file->real->pMethods->xWrite(file->real, data, amount, offset);
    // Whether this is the page of a commit frame: the write just before was its header.
    int completes_commit = file->commit_header_end >= 0 && offset == file->commit_header_end;
    file->commit_header_end = -1;
    if (amount == 24) {
        const unsigned char *header = data;
        if (header[4] | header[5] | header[6] | header[7]) file->commit_header_end = offset + 24;
    }
    int continues = file->held_length > 0 && offset == file->held_offset + file->held_length;
    if (!continues || file->held_length + amount > HOLD_LIMIT) {
        int rc = write_out(file);
        if (rc != SQLITE_OK) return rc;
    }
    int rc = hold(file, data, amount, offset);
    if (rc != SQLITE_OK) return rc;  // out of memory: SQLite fails the transaction
    if (completes_commit) return write_out(file);
    return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xTruncate(file->real, size);
}

static int wal_sync(sqlite3_file *f, int flags) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xSync(file->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFileSize(file->real, size);
}

static int wal_lock(sqlite3_file *f, int level) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xLock(file->real, level);
}

static int wal_unlock(sqlite3_file *f, int level) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xUnlock(file->real, level);
}

static int wal_check_reserved_lock(sqlite3_file *f, int *out) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xCheckReservedLock(file->real, out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFileControl(file->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xSectorSize(file->real);
}

static int wal_device_characteristics(sqlite3_file *f) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xDeviceCharacteristics(file->real);
}

static int wal_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xShmMap(file->real, region, size, extend, out);
}

static int wal_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xShmLock(file->real, offset, n, flags);
}

static void wal_shm_barrier(sqlite3_file *f) {
    WALFile *file = (WALFile *)f;
    file->real->pMethods->xShmBarrier(file->real);
}

static int wal_shm_unmap(sqlite3_file *f, int delete_flag) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xShmUnmap(file->real, delete_flag);
}

static int wal_fetch(sqlite3_file *f, sqlite3_int64 offset, int amount, void **out) {
    WALFile *file = (WALFile *)f;
    int rc = write_out(file);
    if (rc != SQLITE_OK) return rc;
    return file->real->pMethods->xFetch(file->real, offset, amount, out);
}

static int wal_unfetch(sqlite3_file *f, sqlite3_int64 offset, void *page) {
    WALFile *file = (WALFile *)f;
    return file->real->pMethods->xUnfetch(file->real, offset, page);
}

static const sqlite3_io_methods methods = {
    3,
    wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size,
    wal_lock, wal_unlock, wal_check_reserved_lock, wal_file_control,
    wal_sector_size, wal_device_characteristics,
    wal_shm_map, wal_shm_lock, wal_shm_barrier, wal_shm_unmap,
    wal_fetch, wal_unfetch,
};

static int vfs_open(sqlite3_vfs *self, const char *name, sqlite3_file *f, int flags, int *out_flags) {
    (void)self;
    WALFile *file = (WALFile *)f;
    memset(file, 0, sizeof(*file));
    file->real = (sqlite3_file *)(file + 1);
    int rc = root->xOpen(root, name, file->real, flags, out_flags);
    if (file->real->pMethods == NULL) {
        file->base.pMethods = NULL;  // nothing to close
        return rc;
    }
    if (file->real->pMethods->iVersion < 3) {
        // Our methods table promises version 3; a default VFS without it is used as it is.
        file->base.pMethods = NULL;
        file->real->pMethods->xClose(file->real);
        return SQLITE_CANTOPEN;
    }
    file->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    file->commit_header_end = -1;
    file->base.pMethods = &methods;
    return rc;
}

static int vfs_delete(sqlite3_vfs *self, const char *name, int sync_dir) {
    (void)self;
    return root->xDelete(root, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *self, const char *name, int flags, int *out) {
    (void)self;
    return root->xAccess(root, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *self, const char *name, int size, char *out) {
    (void)self;
    return root->xFullPathname(root, name, size, out);
}

static void *vfs_dl_open(sqlite3_vfs *self, const char *name) {
    (void)self;
    return root->xDlOpen(root, name);
}

static void vfs_dl_error(sqlite3_vfs *self, int size, char *out) {
    (void)self;
    root->xDlError(root, size, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *self, void *handle, const char *symbol))(void) {
    (void)self;
    return root->xDlSym(root, handle, symbol);
}

static void vfs_dl_close(sqlite3_vfs *self, void *handle) {
    (void)self;
    root->xDlClose(root, handle);
}

static int vfs_randomness(sqlite3_vfs *self, int size, char *out) {
    (void)self;
    return root->xRandomness(root, size, out);
}

static int vfs_sleep(sqlite3_vfs *self, int microseconds) {
    (void)self;
    return root->xSleep(root, microseconds);
}

static int vfs_current_time(sqlite3_vfs *self, double *out) {
    (void)self;
    return root->xCurrentTime(root, out);
}

static int vfs_get_last_error(sqlite3_vfs *self, int size, char *out) {
    (void)self;
    return root->xGetLastError ? root->xGetLastError(root, size, out) : 0;
}

static int vfs_current_time_int64(sqlite3_vfs *self, sqlite3_int64 *out) {
    (void)self;
    return root->xCurrentTimeInt64(root, out);
}

static int register_result = SQLITE_OK;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_once(void) {
    root = sqlite3_vfs_find(NULL);
    if (root == NULL || root->iVersion < 2) {
        register_result = SQLITE_ERROR;
        return;
    }
    memset(&vfs, 0, sizeof(vfs));
    vfs.iVersion = 2;
    vfs.szOsFile = (int)sizeof(WALFile) + root->szOsFile;
    vfs.mxPathname = root->mxPathname;
    vfs.zName = JOBQ_WAL_WRITES_VFS;
    vfs.xOpen = vfs_open;
    vfs.xDelete = vfs_delete;
    vfs.xAccess = vfs_access;
    vfs.xFullPathname = vfs_full_pathname;
    vfs.xDlOpen = vfs_dl_open;
    vfs.xDlError = vfs_dl_error;
    vfs.xDlSym = vfs_dl_sym;
    vfs.xDlClose = vfs_dl_close;
    vfs.xRandomness = vfs_randomness;
    vfs.xSleep = vfs_sleep;
    vfs.xCurrentTime = vfs_current_time;
    vfs.xGetLastError = vfs_get_last_error;
    vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    register_result = sqlite3_vfs_register(&vfs, 0);
}

int jobq_wal_writes_register(void) {
    pthread_once(&once, register_once);
    return register_result;
}

long long jobq_wal_writes_file_calls(sqlite3 *db) {
    sqlite3_file *journal = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &journal) != SQLITE_OK || journal == NULL
        || journal->pMethods != &methods) {
        return -1;
    }
    return ((WALFile *)journal)->write_calls;
}
