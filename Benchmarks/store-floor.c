/* The floor under a durable submit on this machine: SQLite alone, without jobqd.
 *
 *     cc -O2 -o store-floor Benchmarks/store-floor.c -lsqlite3
 *     store-floor MIGRATIONS-DIR [N]
 *
 * Creates a database with jobq's migrations in a fresh folder under /var/tmp, then commits N
 * transactions of one job each (the row jobqd inserts for {"argv":["true"]} and its job_counts
 * upsert, prepared once, bound per row), in WAL mode with synchronous FULL (jobqd's
 * durability = full), NORMAL and OFF, and prints the process's CPU (utime+stime) and the wall
 * time per commit. A last row is the file system alone: a 4 KiB pwrite and an fdatasync in a
 * file that does not grow. What a kept-alive durable submit costs jobqd can be no lower than
 * the FULL row: that row is one process doing nothing else. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <sqlite3.h>

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void) {
    struct timeval t;
    gettimeofday(&t, NULL);
    return t.tv_sec + t.tv_usec / 1e6;
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "store-floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
        exit(1);
    }
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void migrate(sqlite3 *db, const char *dir) {
    struct dirent **names;
    int count = scandir(dir, &names, NULL, by_name);
    if (count < 0) { perror(dir); exit(1); }
    for (int i = 0; i < count; i++) {
        size_t length = strlen(names[i]->d_name);
        if (length > 4 && strcmp(names[i]->d_name + length - 4, ".sql") == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            FILE *file = fopen(path, "r");
            if (!file) { perror(path); exit(1); }
            static char sql[1 << 20];
            size_t read = fread(sql, 1, sizeof sql - 1, file);
            sql[read] = 0;
            fclose(file);
            check(sqlite3_exec(db, sql, NULL, NULL, NULL), db, path);
        }
        free(names[i]);
    }
    free(names);
}

static void commits(const char *folder, const char *migrations, const char *synchronous, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/jobs-%s.db", folder, synchronous);
    sqlite3 *db;
    check(sqlite3_open(path, &db), NULL, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), db, "wal");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous = %s", synchronous);
    check(sqlite3_exec(db, pragma, NULL, NULL, NULL), db, pragma);
    migrate(db, migrations);
    sqlite3_stmt *begin, *insert, *count, *commit;
    check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL), db, "begin");
    check(sqlite3_prepare_v2(db,
        "INSERT INTO jobs (state, queue, priority, run_at, spec, label, submitter_uid, max_attempts, "
        "created_at, updated_at) VALUES ('queued', 'default', 0, ?1, ?2, NULL, 0, 1, ?1, ?1) RETURNING id",
        -1, &insert, NULL), db, "insert");
    check(sqlite3_prepare_v2(db,
        "INSERT INTO job_counts (queue, state, n) VALUES ('default', 'queued', 1) "
        "ON CONFLICT (queue, state) DO UPDATE SET n = n + 1", -1, &count, NULL), db, "count");
    check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL), db, "commit");
    const char *spec = "{\"argv\":[\"true\"]}";
    double cpu0 = 0, wall0 = 0;
    int warm = n / 4;
    for (int i = 0; i < warm + n; i++) {
        if (i == warm) { cpu0 = cpu_seconds(); wall0 = wall_seconds(); }
        check(sqlite3_step(begin), db, "begin"); sqlite3_reset(begin);
        sqlite3_bind_int64(insert, 1, 1700000000000LL + i);
        sqlite3_bind_text(insert, 2, spec, -1, SQLITE_STATIC);
        check(sqlite3_step(insert), db, "insert"); sqlite3_reset(insert);
        check(sqlite3_step(count), db, "count"); sqlite3_reset(count);
        check(sqlite3_step(commit), db, "commit"); sqlite3_reset(commit);
    }
    printf("SQLite commit, synchronous = %-6s  %6.1f us CPU  %6.1f us wall per commit\n", synchronous,
           (cpu_seconds() - cpu0) / n * 1e6, (wall_seconds() - wall0) / n * 1e6);
    sqlite3_finalize(begin); sqlite3_finalize(insert); sqlite3_finalize(count); sqlite3_finalize(commit);
    sqlite3_close(db);
}

static void file_system(const char *folder, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/plain", folder);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(path); exit(1); }
    static char page[4096];
    memset(page, 1, sizeof page);
    for (int i = 0; i < 1024; i++) pwrite(fd, page, sizeof page, (off_t)i * 4096);
    fsync(fd);
    double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    for (int i = 0; i < n; i++) {
        if (pwrite(fd, page, sizeof page, (off_t)(i % 1024) * 4096) != sizeof page || fdatasync(fd) != 0) {
            perror("pwrite/fdatasync"); exit(1);
        }
    }
    printf("file system: pwrite 4 KiB + fdatasync  %6.1f us CPU  %6.1f us wall\n",
           (cpu_seconds() - cpu0) / n * 1e6, (wall_seconds() - wall0) / n * 1e6);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: store-floor MIGRATIONS-DIR [N]\n"); return 2; }
    int n = argc > 2 ? atoi(argv[2]) : 10000;
    char folder[] = "/var/tmp/store-floor.XXXXXX";
    if (!mkdtemp(folder)) { perror("mkdtemp"); return 1; }
    commits(folder, argv[1], "FULL", n);
    commits(folder, argv[1], "NORMAL", n);
    commits(folder, argv[1], "OFF", n);
    file_system(folder, n);
    char command[4200];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    return system(command) == 0 ? 0 : 1;
}
