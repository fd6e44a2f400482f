// The HTTP exchange that opens an SSTP call ([MS-SSTP] §2.2.2, §3.2.5.1; protocols.md §4.1):
//   SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1  + headers, no body
//   HTTP/1.1 200 OK + Content-Length: 18446744073709551615
// What sstpc 1.0.18 needs of the answer: status at offset 9 = 200, Content-Length absent or exactly
// 18446744073709551615, the whole head in ONE write (it reads it with one SSL_read), at most 4
// headers (a fixed array of 7 that overflows at 8), and nothing after it until CALL_CONNECT_REQUEST.
// Imports nothing (fuzzable alone).

public enum SSTPHTTPError: Error, Equatable, Sendable {
    /// The head grew past SSTPHTTP.maxHeadLength without a blank line.
    case headTooLong
    case malformedRequestLine
    /// A method other than SSTP_DUPLEX_POST (e.g. a browser's GET).
    case wrongMethod(String)
    case wrongPath(String)
    case wrongVersion(String)
    case malformedHeader
    case tooManyHeaders
    /// Client side: the status was not 200.
    case unexpectedStatus(String)
    /// Client side: Content-Length present but not 18446744073709551615.
    case invalidContentLength(String)
}

public struct SSTPHTTPRequest: Equatable, Sendable {
    public var host: String?
    public var correlationID: String?
    public var headers: [(name: String, value: String)]

    public static func == (lhs: SSTPHTTPRequest, rhs: SSTPHTTPRequest) -> Bool {
        lhs.host == rhs.host && lhs.correlationID == rhs.correlationID
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

public enum SSTPHTTP {
    public static let method = "SSTP_DUPLEX_POST"
    public static let path = "/sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/"
    public static let contentLength = "18446744073709551615"
    /// Bound on the request head (slow or hostile clients cannot make us buffer more).
    public static let maxHeadLength = 4096
    public static let maxHeaders = 32

    /// Finds the end of the head ("\r\n\r\n"). Returns the head length including the blank line,
    /// nil when more bytes are needed; throws when the head is too long.
    public static func headLength(_ bytes: [UInt8]) throws(SSTPHTTPError) -> Int? {
        let limit = min(bytes.count, maxHeadLength)
        if limit >= 4 {
            for i in 0...(limit - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
                return i + 4
            }
        }
        if bytes.count >= maxHeadLength { throw .headTooLong }
        return nil
    }

    /// Parses a complete request head (as delimited by `headLength`).
    public static func parseRequest(_ head: [UInt8]) throws(SSTPHTTPError) -> SSTPHTTPRequest {
        let lines = splitLines(head)
        guard let requestLine = lines.first else { throw .malformedRequestLine }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedRequestLine }
        guard parts[0] == method else { throw .wrongMethod(String(parts[0].prefix(32))) }
        // The GUID's case varies between clients; compare case-insensitively.
        guard parts[1].lowercased() == path.lowercased() else { throw .wrongPath(String(parts[1].prefix(128))) }
        guard parts[2] == "HTTP/1.1" else { throw .wrongVersion(String(parts[2].prefix(16))) }
        var request = SSTPHTTPRequest(host: nil, correlationID: nil, headers: [])
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedHeader }
            guard request.headers.count < maxHeaders else { throw .tooManyHeaders }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" }))
            request.headers.append((name, value))
            switch name.lowercased() {
            case "host": request.host = value
            case "sstpcorrelationid": request.correlationID = value
            default: break
            }
        }
        return request
    }

    /// The 200 answer as one buffer: three headers, the Microsoft set (protocols.md §4.1).
    /// `date` is an RFC 7231 IMF-fixdate supplied by the caller (the core reads no clock); nil omits it.
    public static func okResponse(date: String?) -> [UInt8] {
        var text = "HTTP/1.1 200 OK\r\nContent-Length: \(contentLength)\r\nServer: Microsoft-HTTPAPI/2.0\r\n"
        if let date { text += "Date: \(date)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// A refusal for HTTP that is not SSTP; the connection is closed after it.
    public static func errorResponse(for error: SSTPHTTPError) -> [UInt8] {
        let status: String
        switch error {
        case .wrongMethod: status = "405 Method Not Allowed"
        case .wrongPath: status = "404 Not Found"
        case .wrongVersion: status = "505 HTTP Version Not Supported"
        case .headTooLong, .tooManyHeaders: status = "431 Request Header Fields Too Large"
        case .malformedRequestLine, .malformedHeader, .unexpectedStatus, .invalidContentLength: status = "400 Bad Request"
        }
        return Array("HTTP/1.1 \(status)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    }

    /// The client's request, as sstpc sends it (sstp-http.c).
    public static func request(host: String, correlationID: String) -> [UInt8] {
        Array("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: \(contentLength)\r\nSSTPCORRELATIONID: \(correlationID)\r\n\r\n".utf8)
    }

    /// Client side: checks a complete response head the way sstpc does.
    public static func checkResponse(_ head: [UInt8]) throws(SSTPHTTPError) {
        let lines = splitLines(head)
        guard let statusLine = lines.first else { throw .malformedRequestLine }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { throw .malformedRequestLine }
        guard parts[1] == "200" else { throw .unexpectedStatus(String(parts[1].prefix(8))) }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "content-length" {
                let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
                guard value == contentLength else { throw .invalidContentLength(String(value.prefix(32))) }
            }
        }
    }

    static func splitLines(_ head: [UInt8]) -> [String] {
        var lines: [String] = []
        var current: [UInt8] = []
        var i = 0
        while i < head.count {
            if head[i] == 13, i + 1 < head.count, head[i + 1] == 10 {
                lines.append(String(decoding: current, as: UTF8.self))
                current = []
                i += 2
            } else {
                current.append(head[i])
                i += 1
            }
        }
        if !current.isEmpty { lines.append(String(decoding: current, as: UTF8.self)) }
        return lines
    }
}
