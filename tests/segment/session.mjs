// One user's session through @segment/analytics-node against a shopevents server:
// node session.mjs BASE_URL WRITE_KEY USER_ID EMAIL ORDER_ID
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, userId, email, orderId] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host, maxRetries: 5, flushAt: 20, flushInterval: 200 })
const errors = []
analytics.on('error', (err) => errors.push(String(err && (err.reason || err.message || err.code || err))))

const lamp = {
  product_id: 'SKU-42', sku: 'LAMP-42', name: 'Desk lamp', price: 24.9,
  url: 'https://shop.example/p/sku-42', image_url: 'https://shop.example/img/sku-42.jpg',
  brand: 'Lumo', category: 'Home/Lighting', currency: 'EUR',
}
const mug = { product_id: 'MUG-1', name: 'Mug', price: 9.99, url: 'https://shop.example/p/mug-1', currency: 'EUR' }
const purchase = { order_id: orderId, total: 74.7, currency: 'EUR', products: [{ ...lamp, quantity: 3 }] }

analytics.identify({ userId, traits: { email, firstName: 'Ana', plan: 'gold' } })
analytics.page({
  userId, name: 'Desk lamp',
  properties: { url: 'https://shop.example/p/sku-42?utm_source=news', title: 'Desk lamp', referrer: 'https://search.example/' },
})
analytics.track({ userId, event: 'Product Viewed', properties: lamp })
analytics.track({ userId, event: 'Product Added', properties: { ...lamp, quantity: 3 } })
analytics.track({ userId, event: 'Product Added', properties: { ...mug, quantity: 1 } })
analytics.track({ userId, event: 'Product Removed', properties: { ...mug, quantity: 1 } })
analytics.track({ userId, event: 'Order Completed', properties: purchase })
analytics.track({ userId, event: 'Order Completed', properties: purchase })
await analytics.closeAndFlush({ timeout: 20000 })
console.log(JSON.stringify({ errors }))
process.exit(errors.length ? 1 : 0)
