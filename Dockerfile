FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs scripts/postinstall.mjs
COPY prisma prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx remix vite:build
ENV NODE_ENV=production
EXPOSE 3000
CMD ["node", "--import", "tsx", "scripts/start.ts"]
