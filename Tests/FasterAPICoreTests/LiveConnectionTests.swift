import NIOCore
import NIOPosix
import Testing

@testable import FasterAPICore

/// A responder answering every method with a fixed body, or a streamed one under `/stream…`.
private func fixedOrStreamingResponder() -> ClosureResponder {
    ClosureResponder { request in
        var headers = HTTPHeaders()
        headers.add(name: "X-Target", value: request.head.target)
        switch request.head.target {
        case "/stream":
            // Unknown length: chunked on HTTP/1.1, close-delimited on HTTP/1.0.
            return Response(
                headers: headers,
                body: ResponseBody { writer in
                    try await writer.write("alpha")
                    try await Task.sleep(for: .milliseconds(20))
                    try await writer.write("beta")
                    try await Task.sleep(for: .milliseconds(20))
                    try await writer.write("gamma")
                })
        case "/stream-known":
            return Response(
                headers: headers,
                body: ResponseBody(length: 14) { writer in
                    try await writer.write("alpha")
                    try await Task.sleep(for: .milliseconds(10))
                    try await writer.write("betagamma")
                })
        default:
            return Response(headers: headers, body: ResponseBody(string: "hello world"))
        }
    }
}

@Suite("Live HTTP/1.1: connection behaviour")
struct LiveConnectionTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder) { server in
            let connection = try await RawConnection.connect(port: server.port)
            for index in 0..<5 {
                try await connection.send("POST /r\(index) HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nr-\(index)")
                let (responses, state) = await connection.waitForResponses(index + 1)
                #expect(responses.count == index + 1, "received: \(state.received.text)")
                #expect(!state.closed)
            }
            let (responses, _) = await connection.waitForResponses(5)
            #expect(responses.map(\.status) == [200, 200, 200, 200, 200])
            #expect(responses.map(\.text) == (0..<5).map { "r-\($0)" })
            #expect(responses.allSatisfy { $0.header("connection") == nil && $0.header("date") != nil })
            #expect(server.server.connectionCount == 1)
            await connection.close()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderWithTheirOwnBodies() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder) { server in
            // The first request is the slowest and the second the fastest: responses must still
            // leave in request order.
            let requests = [("/sleep/200/a", "first"), ("/sleep/1/b", "second-body"), ("/sleep/80/c", "3rd")]
            let wire = requests.map {
                "POST \($0.0) HTTP/1.1\r\nHost: x\r\nContent-Length: \($0.1.utf8.count)\r\n\r\n\($0.1)"
            }.joined()
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(wire)
            let (responses, state) = await connection.waitForResponses(3, timeout: .seconds(5))
            await connection.close()
            #expect(responses.count == 3, "received: \(state.received.text)")
            #expect(responses.map { $0.header("x-target") } == requests.map(\.0))
            #expect(responses.map(\.text) == requests.map(\.1))
            #expect(responses.map { $0.header("content-length") } == requests.map { "\($0.1.utf8.count)" })
            // One at a time: each request is complete before the next one is handed over.
            let events = responder.log.events
            #expect(
                events == requests.flatMap { [.called($0.0), .bodyComplete($0.0, $0.1.utf8.count)] }, "\(events)")
        }
    }

    @Test func chunkedRequestBodyIsDecodedAndEchoed() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder) { server in
            let connection = try await RawConnection.connect(port: server.port)
            await connection.send(
                pieces: [
                    bytes("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
                    bytes("5\r\nhel"), bytes("lo\r\n"),
                    bytes("1;ext=value\r\n \r\n"),
                    bytes("10\r\n0123456789abcdef\r\n"),
                    bytes("0\r\nX-Trailer: yes\r\n\r\n"),
                ], pause: .milliseconds(20))
            let (responses, state) = await connection.waitForResponses(1)
            let response = try #require(responses.first, "received: \(state.received.text)")
            #expect(response.status == 200)
            #expect(response.text == "hello 0123456789abcdef")
            #expect(response.header("content-length") == "22")
            // The connection is still usable afterwards.
            try await connection.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            let (all, _) = await connection.waitForResponses(2)
            #expect(all.count == 2)
            #expect(all.last?.header("x-target") == "/next")
            await connection.close()
        }
    }

    @Test func streamedResponseOfUnknownLengthIsChunked() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            let (responses, state) = await connection.waitForResponses(2)
            await connection.close()
            #expect(responses.count == 2, "received: \(state.received.text)")
            guard responses.count == 2 else { return }
            let streamed = responses[0]
            #expect(streamed.status == 200)
            #expect(streamed.header("transfer-encoding") == "chunked")
            #expect(streamed.header("content-length") == nil)
            #expect(streamed.chunkSizes == [5, 4, 5])
            #expect(streamed.text == "alphabetagamma")
            #expect(responses[1].text == "hello world")
            #expect(!state.closed)
        }
    }

    @Test func streamedResponseOfKnownLengthUsesContentLength() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "GET /stream-known HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            let (responses, state) = await connection.waitForResponses(2)
            await connection.close()
            #expect(responses.count == 2, "received: \(state.received.text)")
            guard responses.count == 2 else { return }
            #expect(responses[0].header("content-length") == "14")
            #expect(responses[0].header("transfer-encoding") == nil)
            #expect(responses[0].text == "alphabetagamma")
            #expect(responses[1].text == "hello world")
        }
    }

    @Test func expectContinueIsSentOnlyWhenTheResponderReadsTheBody() async throws {
        let gate = Gate()
        let called = EventLog<String>()
        let responder = ClosureResponder { request in
            called.append(request.head.target)
            await gate.wait()
            let body = try await request.body.collect(upTo: 1024)
            return Response(body: ResponseBody(buffer: body))
        }
        try await withLiveServer(responder) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            #expect(await eventually { called.events == ["/upload"] })
            // The responder has the request but has not asked for the body: no 100 yet.
            try await Task.sleep(for: .milliseconds(150))
            #expect(connection.received.isEmpty, "sent before the body was read: \(connection.received.text)")
            gate.release()
            let interim = await connection.wait { $0.received.count >= 25 || $0.closed }
            #expect(interim.received.text == "HTTP/1.1 100 Continue\r\n\r\n")
            try await connection.send("hello world")
            let (responses, state) = await connection.waitForResponses(2)
            await connection.close()
            #expect(responses.map(\.status) == [100, 200], "received: \(state.received.text)")
            #expect(responses.last?.text == "hello world")
            #expect(state.received.occurrences(of: "100 Continue") == 1)
            #expect(!state.closed)
        }
    }

    @Test func expectContinueWithoutReadingTheBodyAnswersWithoutOneHundredAndCloses() async throws {
        let responder = ClosureResponder { _ in Response(status: .forbidden, body: ResponseBody(string: "no")) }
        try await withLiveServer(responder) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
            let state = await connection.readUntilClosed()
            await connection.close()
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.map(\.status) == [403], "received: \(state.received.text)")
            #expect(parsed.responses.first?.header("connection") == "close")
            #expect(state.received.occurrences(of: "100 Continue") == 0)
            #expect(state.closed)
        }
    }

    @Test func headHasContentLengthButNoBody() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send(
                "HEAD /fixed HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /fixed HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            let (responses, state) = await connection.waitForResponses(3, headRequests: [0, 1])
            await connection.close()
            #expect(responses.count == 3, "received: \(state.received.text)")
            guard responses.count == 3 else { return }
            #expect(responses[0].status == 200)
            #expect(responses[0].header("content-length") == "11")
            #expect(responses[0].body.isEmpty)
            #expect(responses[1].status == 200)
            #expect(responses[1].body.isEmpty)
            #expect(responses[1].header("x-target") == "/stream")
            // The GET after the HEADs is framed right after their heads: no stray body bytes.
            #expect(responses[2].text == "hello world")
            let parsed = try ResponseParser.parseAll(state.received, headRequests: [0, 1], closed: false)
            #expect(parsed.rest == state.received.count)
            #expect(state.received.occurrences(of: "hello world") == 1)
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        let responder = RecordingResponder()
        try await withLiveServer(responder) { server in
            let state = try await rawExchange(
                port: server.port,
                pieces: [
                    bytes(
                        "GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n"
                    )
                ])
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            #expect(parsed.responses.count == 1, "received: \(state.received.text)")
            #expect(parsed.responses.first?.status == 200)
            #expect(parsed.responses.first?.header("connection") == "close")
            #expect(state.closed)
            #expect(!responder.log.events.contains(.called("/after")))
        }
    }

    @Test func http10WithoutKeepAliveCloses() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let state = try await rawExchange(port: server.port, pieces: [bytes("GET /fixed HTTP/1.0\r\n\r\n")])
            let parsed = try ResponseParser.parseAll(state.received, closed: state.closed)
            let response = try #require(parsed.responses.first, "received: \(state.received.text)")
            #expect(parsed.responses.count == 1)
            #expect(response.status == 200)
            #expect(response.header("connection") == "close")
            #expect(response.header("content-length") == "11")
            #expect(response.text == "hello world")
            #expect(state.closed)
        }
    }

    @Test func http10WithKeepAliveStaysOpen() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let connection = try await RawConnection.connect(port: server.port)
            try await connection.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let (first, _) = await connection.waitForResponses(1)
            #expect(first.first?.header("connection") == "keep-alive")
            #expect(first.first?.header("content-length") == "11")
            try await connection.send("GET /two HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let (responses, state) = await connection.waitForResponses(2)
            #expect(responses.count == 2, "received: \(state.received.text)")
            #expect(responses.map { $0.header("x-target") } == ["/one", "/two"])
            #expect(responses.allSatisfy { $0.header("connection") == "keep-alive" })
            #expect(!state.closed)
            // And a keep-alive HTTP/1.0 request without the token ends it.
            try await connection.send("GET /three HTTP/1.0\r\n\r\n")
            let last = await connection.readUntilClosed()
            let parsed = try ResponseParser.parseAll(last.received, closed: last.closed)
            #expect(parsed.responses.count == 3)
            #expect(parsed.responses.last?.header("connection") == "close")
            #expect(last.closed)
            await connection.close()
        }
    }

    @Test func http10StreamedResponseOfUnknownLengthIsCloseDelimited() async throws {
        try await withLiveServer(fixedOrStreamingResponder()) { server in
            let state = try await rawExchange(
                port: server.port, pieces: [bytes("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")])
            #expect(state.closed)
            let parsed = try ResponseParser.parseAll(state.received, closed: true)
            let response = try #require(parsed.responses.first, "received: \(state.received.text)")
            #expect(response.status == 200)
            #expect(response.header("transfer-encoding") == nil)
            #expect(response.header("content-length") == nil)
            #expect(response.header("connection") == "close")
            #expect(response.text == "alphabetagamma")
        }
    }
}
