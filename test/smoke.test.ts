import { describe, expect, it } from "vitest";

function logged(value: (this: unknown, ...args: number[]) => number, context: ClassMethodDecoratorContext) {
  return function (this: unknown, ...args: number[]) {
    return value.apply(this, args) * 10 + (context.name === "f" ? 1 : 0);
  };
}

class A {
  @logged
  f(x: number) {
    return x;
  }
}

describe("toolchain", () => {
  it("lowers TC39 decorators through the TypeScript emitter", () => {
    expect(new A().f(2)).toBe(21);
  });
});
