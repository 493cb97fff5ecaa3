// This request's script nonce (see security/headers.ts), for the components that render inline
// scripts. Browsers hide nonces from the DOM, so on the client it is empty, as it should be.
import { createContext, useContext } from "react";

export const NonceContext = createContext("");

export function useNonce(): string {
  return useContext(NonceContext);
}
