// The delivery flags of `kvq serve`: --app-id, --peer NAME=URL, --peer-template, --delivery-key.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { deliveryFromFlags } from "../../cli/delivery.ts";
import { runCli } from "../../cli/cli.ts";

describe("kvq serve delivery flags", () => {
  test("deliveryFromFlags() builds appId and delivery from a peer map or a template", () => {
    assert.deepEqual(deliveryFromFlags({}, undefined), {});
    assert.deepEqual(
      deliveryFromFlags({ "app-id": "shop", peer: ["billing=http://10.0.0.7:8787"] }, "k"),
      { appId: "shop", delivery: { key: "k", peers: { billing: "http://10.0.0.7:8787" } } },
    );
    assert.deepEqual(
      deliveryFromFlags(
        { "app-id": "shop", "peer-template": "{app}.prod.svc:8787", "delivery-key": "f" },
        "e",
      ),
      { appId: "shop", delivery: { key: "f", peers: "{app}.prod.svc:8787", acceptFrom: "*" } },
    );
  });

  test("deliveryFromFlags() refuses peers without an app id, an app id without a key, a malformed --peer", () => {
    assert.throws(() => deliveryFromFlags({ peer: ["b=http://x"] }, "k"), /need --app-id/);
    assert.throws(() => deliveryFromFlags({ "app-id": "a" }, undefined), /needs a delivery key/);
    assert.throws(() => deliveryFromFlags({ "app-id": "a", peer: ["http://x"] }, "k"), /expected NAME=URL/);
    assert.throws(
      () => deliveryFromFlags({ "app-id": "a", peer: ["b=http://x"], "peer-template": "{app}" }, "k"),
      /not both/,
    );
  });

  test("kvq serve with --peer and no --app-id is a usage error (exit 2) before any store is opened", async () => {
    const err: string[] = [];
    const code = await runCli(["serve", "--peer", "b=http://127.0.0.1:1", "--store", "/nonexistent/kvq"], {
      out: () => {},
      err: (l) => err.push(l),
    });
    assert.equal(code, 2);
    assert.match(err.join("\n"), /need --app-id/);
  });
});
