import JobStorePostgres
import Testing

@Suite("PostgreSQL store URLs")
struct PostgresStoreConfigurationTests {
    @Test("A TCP URL gives host, port, user, database; TLS is preferred by default")
    func tcp() throws {
        let configuration = try PostgresStoreConfiguration(url: "postgresql://jobq@db.example:6543/jobs", environment: [:])
        #expect(configuration.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(configuration.user == "jobq")
        #expect(configuration.database == "jobs")
        #expect(configuration.tls == .prefer)
        #expect(configuration.password == nil)
        #expect(configuration.poolSize == 10)
        #expect(configuration.description == "postgresql://jobq@db.example:6543/jobs")
    }

    @Test("A socket directory, as ?host= or percent-encoded in the host, names the socket file; no TLS on it")
    func unixSocket() throws {
        let byParameter = try PostgresStoreConfiguration(url: "postgresql://jobq@localhost/jobq?host=/run/postgresql", environment: [:])
        #expect(byParameter.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(byParameter.tls == .disable)
        let encoded = try PostgresStoreConfiguration(url: "postgres://jobq@%2Fvar%2Frun%2Fpg:5433/jobq", environment: [:])
        #expect(encoded.endpoint == .unixSocket(path: "/var/run/pg/.s.PGSQL.5433"))
    }

    @Test("The password comes from password_file's first line, else JOBQ_STORE_PASSWORD, else PGPASSWORD")
    func password() throws {
        let fromFile = try PostgresStoreConfiguration(
            url: "postgresql://jobq@db/jobq?password_file=/etc/jobq/pw", environment: ["JOBQ_STORE_PASSWORD": "env"],
            readFile: { path in
                #expect(path == "/etc/jobq/pw")
                return "s3cret\nignored\n"
            })
        #expect(fromFile.password == "s3cret")
        #expect(fromFile.description.contains("s3cret") == false)
        let fromEnvironment = try PostgresStoreConfiguration(
            url: "postgresql://jobq@db/jobq", environment: ["JOBQ_STORE_PASSWORD": "env", "PGPASSWORD": "pg"])
        #expect(fromEnvironment.password == "env")
        let fromLibpq = try PostgresStoreConfiguration(url: "postgresql://jobq@db/jobq", environment: ["PGPASSWORD": "pg"])
        #expect(fromLibpq.password == "pg")
    }

    @Test("Parameters: sslmode, pool_size, application_name, port")
    func parameters() throws {
        let configuration = try PostgresStoreConfiguration(
            url: "postgresql://jobq@db/jobq?sslmode=require&pool_size=4&application_name=node-a&port=7000", environment: [:])
        #expect(configuration.tls == .require)
        #expect(configuration.poolSize == 4)
        #expect(configuration.applicationName == "node-a")
        #expect(configuration.endpoint == .tcp(host: "db", port: 7000))
    }

    @Test("Refused with a sentence that says why", arguments: [
        ("postgresql://jobq:hunter2@db/jobq", "carries a password"),
        ("mysql://jobq@db/jobq", "is not a postgresql:// URL"),
        ("postgresql://db/jobq", "names no user"),
        ("postgresql://jobq@db/", "names no database"),
        ("postgresql://jobq@/jobq", "names no host"),
        ("postgresql://jobq@db/jobq?sslmode=verify-full", "sslmode 'verify-full' is not one of disable, prefer, require"),
        ("postgresql://jobq@db/jobq?pool_size=0", "pool_size '0'"),
        ("postgresql://jobq@db/jobq?port=99999", "port '99999'"),
        ("postgresql://jobq@db/jobq?timeout=3", "unknown parameter 'timeout'"),
    ])
    func refused(url: String, reason: String) {
        #expect {
            try PostgresStoreConfiguration(url: url, environment: [:])
        } throws: { error in
            "\(error)".contains(reason) && !"\(error)".contains("hunter2")
        }
    }

    @Test("An unreadable password file is refused, naming the file")
    func unreadablePasswordFile() {
        #expect {
            try PostgresStoreConfiguration(url: "postgresql://jobq@db/jobq?password_file=/nonexistent/pw", environment: [:])
        } throws: { error in
            "\(error)".contains("cannot read the store's password file /nonexistent/pw")
        }
    }
}
