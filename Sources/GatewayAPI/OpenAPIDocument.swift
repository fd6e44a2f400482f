import Foundation
import GatewayModel

/// The OpenAPI 3 description served at `/openapi.json`: every path and method, ARM's error shape.
enum OpenAPIDocument {
    static let json: Data = {
        let error: [String: Any] = ["description": "ARM error", "content": ["application/json": ["schema": ["$ref": "#/components/schemas/ErrorResponse"]]]]
        let resource: [String: Any] = ["$ref": "#/components/schemas/Resource"]
        func ok(_ schema: [String: Any], _ desc: String = "OK") -> [String: Any] { ["description": desc, "content": ["application/json": ["schema": schema]]] }
        let list: [String: Any] = ["type": "object", "properties": ["value": ["type": "array", "items": resource], "nextLink": ["type": "string"]]]
        let apiVersion: [String: Any] = ["name": "api-version", "in": "query", "required": false, "schema": ["type": "string"]]
        func p(_ name: String) -> [String: Any] { ["name": name, "in": "path", "required": true, "schema": ["type": "string"]] }
        var paths: [String: Any] = [:]
        let errors: [String: Any] = ["400": error, "401": error, "403": error, "404": error, "409": error, "412": error]
        paths["/subscriptions/{subscriptionId}/resourcegroups"] = ["get": ["summary": "List resource groups", "parameters": [p("subscriptionId"), apiVersion], "responses": ["200": ok(list)].merging(errors) { a, _ in a }]]
        paths["/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}"] = [
            "put": ["summary": "Create or update a resource group", "parameters": [p("subscriptionId"), p("resourceGroupName"), apiVersion],
                    "requestBody": ["content": ["application/json": ["schema": resource]]], "responses": ["200": ok(resource), "201": ok(resource, "Created")].merging(errors) { a, _ in a }],
            "get": ["summary": "Get a resource group", "parameters": [p("subscriptionId"), p("resourceGroupName"), apiVersion], "responses": ["200": ok(resource)].merging(errors) { a, _ in a }],
            "delete": ["summary": "Delete a resource group and everything in it", "parameters": [p("subscriptionId"), p("resourceGroupName"), apiVersion], "responses": ["200": ["description": "Deleted"], "204": ["description": "Did not exist"]].merging(errors) { a, _ in a }],
        ]
        for type in ResourceType.allCases {
            let base = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/\(type.rawValue)"
            paths["/subscriptions/{subscriptionId}/providers/Microsoft.Network/\(type.rawValue)"] = [
                "get": ["summary": "List \(type.noun)s in the subscription", "parameters": [p("subscriptionId"), apiVersion], "responses": ["200": ok(list)].merging(errors) { a, _ in a }]]
            paths[base] = ["get": ["summary": "List \(type.noun)s in the resource group", "parameters": [p("subscriptionId"), p("resourceGroupName"), apiVersion], "responses": ["200": ok(list)].merging(errors) { a, _ in a }]]
            let ps = [p("subscriptionId"), p("resourceGroupName"), p("name"), apiVersion]
            paths[base + "/{name}"] = [
                "put": ["summary": "Create or update a \(type.noun)", "parameters": ps, "requestBody": ["content": ["application/json": ["schema": resource]]],
                        "responses": ["200": ok(resource), "201": ok(resource, "Created (long-running: follow Azure-AsyncOperation)")].merging(errors) { a, _ in a }],
                "get": ["summary": "Get a \(type.noun)", "parameters": ps, "responses": ["200": ok(resource)].merging(errors) { a, _ in a }],
                "patch": ["summary": "Update the tags of a \(type.noun)", "parameters": ps, "requestBody": ["content": ["application/json": ["schema": ["type": "object", "properties": ["tags": ["type": "object", "additionalProperties": ["type": "string"]]]]]]],
                          "responses": ["200": ok(resource)].merging(errors) { a, _ in a }],
                "delete": ["summary": "Delete a \(type.noun)", "parameters": ps, "responses": ["200": ["description": "Deleted"], "202": ["description": "Deleting (follow Azure-AsyncOperation)"], "204": ["description": "Did not exist"]].merging(errors) { a, _ in a }],
            ]
        }
        for c in ChildCollection.allCases {
            let base = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/\(c.parentType.rawValue)/{name}/\(c.rawValue)"
            let ps = [p("subscriptionId"), p("resourceGroupName"), p("name"), apiVersion]
            paths[base] = ["get": ["summary": "List \(c.noun)s", "parameters": ps, "responses": ["200": ok(list)].merging(errors) { a, _ in a }]]
            paths[base + "/{childName}"] = [
                "put": ["summary": "Create or update a \(c.noun)", "parameters": ps + [p("childName")], "requestBody": ["content": ["application/json": ["schema": resource]]], "responses": ["200": ok(resource), "201": ok(resource)].merging(errors) { a, _ in a }],
                "get": ["summary": "Get a \(c.noun)", "parameters": ps + [p("childName")], "responses": ["200": ok(resource)].merging(errors) { a, _ in a }],
                "delete": ["summary": "Delete a \(c.noun)", "parameters": ps + [p("childName")], "responses": ["200": ["description": "Deleted"], "204": ["description": "Did not exist"]].merging(errors) { a, _ in a }],
            ]
        }
        let conn = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/connections/{name}"
        let cps = [p("subscriptionId"), p("resourceGroupName"), p("name"), apiVersion]
        let key: [String: Any] = ["type": "object", "properties": ["value": ["type": "string"]]]
        paths[conn + "/sharedkey"] = [
            "get": ["summary": "Get the connection's shared key", "parameters": cps, "responses": ["200": ok(key)].merging(errors) { a, _ in a }],
            "put": ["summary": "Set the connection's shared key", "parameters": cps, "requestBody": ["content": ["application/json": ["schema": key]]], "responses": ["200": ok(key)].merging(errors) { a, _ in a }],
        ]
        paths[conn + "/sharedkey/reset"] = ["post": ["summary": "Reset the shared key to a random one of keyLength characters", "parameters": cps,
            "requestBody": ["content": ["application/json": ["schema": ["type": "object", "properties": ["keyLength": ["type": "integer"]]]]]], "responses": ["200": ok(["type": "object"])].merging(errors) { a, _ in a }]]
        paths[conn + "/resetconnection"] = ["post": ["summary": "Reset one connection (renegotiate its tunnel)", "parameters": cps, "responses": ["202": ["description": "Accepted"]].merging(errors) { a, _ in a }]]
        paths["/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworkGateways/{name}/reset"] =
            ["post": ["summary": "Reset a gateway (re-apply its running state)", "parameters": cps, "responses": ["202": ["description": "Accepted"]].merging(errors) { a, _ in a }]]
        let gwBase = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworkGateways/{name}"
        let health: [String: Any] = ["type": "object", "properties": ["value": ["type": "array", "items": ["type": "object", "properties": [
            "vpnConnectionId": ["type": "string"], "vpnConnectionDuration": ["type": "integer"], "vpnConnectionTime": ["type": "string"],
            "publicIpAddress": ["type": "string"], "privateIpAddress": ["type": "string"], "vpnUserName": ["type": "string"],
            "ingressBytesTransferred": ["type": "integer"], "egressBytesTransferred": ["type": "integer"]]]]]]
        paths[gwBase + "/getvpnclientconnectionhealth"] = [
            "post": ["summary": "Live point-to-site (SSTP) sessions of the gateway", "parameters": cps, "responses": ["200": ok(health)].merging(errors) { a, _ in a }],
            "get": ["summary": "Live point-to-site (SSTP) sessions of the gateway", "parameters": cps, "responses": ["200": ok(health)].merging(errors) { a, _ in a }],
        ]
        paths[gwBase + "/disconnectVirtualNetworkGatewayVpnConnections"] = ["post": ["summary": "End point-to-site sessions by vpnConnectionId", "parameters": cps,
            "requestBody": ["content": ["application/json": ["schema": ["type": "object", "properties": ["vpnConnectionIds": ["type": "array", "items": ["type": "string"]]]]]]],
            "responses": ["200": ok(["type": "object", "properties": ["value": ["type": "array", "items": ["type": "string"]]]], "The ids that were found and ended")].merging(errors) { a, _ in a }]]
        paths[gwBase + "/vpnclientconfiguration"] = ["post": ["summary": "vpngw extension: what a point-to-site client needs (server address, port, server certificate PEM, routes)", "parameters": cps,
            "responses": ["200": ok(["type": "object", "properties": ["serverAddress": ["type": "string"], "port": ["type": "integer"], "serverCertificatePEM": ["type": "string"],
                                                                     "routes": ["type": "array", "items": ["type": "string"]], "status": ["type": "string"]]])].merging(errors) { a, _ in a }]]
        paths["/subscriptions/{subscriptionId}/providers/Microsoft.Network/locations/{location}/operations/{operationId}"] =
            ["get": ["summary": "Status of a long-running operation", "parameters": [p("subscriptionId"), p("location"), p("operationId"), apiVersion],
                     "responses": ["200": ok(["type": "object", "properties": ["status": ["type": "string", "enum": ["InProgress", "Succeeded", "Failed", "Canceled"]]]])].merging(errors) { a, _ in a }]]
        let doc: [String: Any] = [
            "openapi": "3.0.3",
            "info": ["title": "vpngw", "version": "2024-05-01", "description": "Azure-shaped Microsoft.Network API of the vpngw self-hosted VPN gateway."],
            "security": [["bearer": []]],
            "paths": paths,
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": [
                    "Resource": ["type": "object", "properties": [
                        "id": ["type": "string", "readOnly": true], "name": ["type": "string", "readOnly": true], "type": ["type": "string", "readOnly": true],
                        "location": ["type": "string"], "etag": ["type": "string", "readOnly": true],
                        "tags": ["type": "object", "additionalProperties": ["type": "string"]], "properties": ["type": "object"]]],
                    "ErrorResponse": ["type": "object", "required": ["error"], "properties": ["error": ["type": "object", "required": ["code", "message"], "properties": [
                        "code": ["type": "string"], "message": ["type": "string"], "target": ["type": "string"]]]]],
                ],
            ],
        ]
        return (try? JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }()
}
